package natsbus

import (
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenAndNKeyAuth(t *testing.T) {
	ctx := ctxT(t, 20*time.Second)
	var log testLog

	ts := startServer(t, ServerConfig{Listen: "127.0.0.1:0", Token: "tok-s3cret"})
	c, err := Connect(ctx, ConnConfig{URL: ts.ClientURL(), Token: "tok-s3cret", Logger: log.logger()}, nil)
	require.NoError(t, err)
	c.Close()
	_, err = Connect(ctx, ConnConfig{URL: ts.ClientURL(), Token: "tok-wrong", Logger: log.logger()}, nil)
	require.ErrorIs(t, err, ErrAuth)
	assert.NotContains(t, err.Error(), "tok-wrong")

	user, err := nkeys.CreateUser()
	require.NoError(t, err)
	seed, err := user.Seed()
	require.NoError(t, err)
	pub, err := user.PublicKey()
	require.NoError(t, err)
	other, err := nkeys.CreateUser()
	require.NoError(t, err)
	otherSeed, err := other.Seed()
	require.NoError(t, err)

	ns := startServer(t, ServerConfig{Listen: "127.0.0.1:0", NKeys: []string{pub}})
	c, err = Connect(ctx, ConnConfig{URL: ns.ClientURL(), NKeySeed: string(seed), Logger: log.logger()}, nil)
	require.NoError(t, err)
	c.Close()
	_, err = Connect(ctx, ConnConfig{URL: ns.ClientURL(), NKeySeed: string(otherSeed), Logger: log.logger()}, nil)
	require.ErrorIs(t, err, ErrAuth)
	_, err = Connect(ctx, ConnConfig{URL: ns.ClientURL(), NKeySeed: "not-a-seed", Logger: log.logger()}, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "not-a-seed")

	for _, secret := range []string{"tok-s3cret", "tok-wrong", string(seed), string(otherSeed)} {
		assert.NotContains(t, log.String(), secret)
	}

	_, err = StartServer(ServerConfig{DataDir: t.TempDir(), User: "u", Password: "p", Token: "t"})
	require.Error(t, err, "user and token together")
}
