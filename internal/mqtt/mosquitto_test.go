package mqtt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/event"
)

// TestMosquittoTLSWithPassword runs Debian's mosquitto (scripts/setup.sh installs it) with TLS and a
// password file, and checks the publisher connects over TLS with credentials, trusting only the
// configured CA, and that the broker's own subscriber sees the event.
func TestMosquittoTLSWithPassword(t *testing.T) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	passwd, perr := exec.LookPath("mosquitto_passwd")
	if _, err := os.Stat(bin); err != nil || perr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mosquitto is not installed (scripts/setup.sh installs it)")
		}
		t.Skip("mosquitto is not installed (scripts/setup.sh installs it)")
	}
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	pwfile := filepath.Join(dir, "passwd")
	out, err := exec.Command(passwd, "-b", "-c", pwfile, "mvwatch", "pa ss").CombinedOutput()
	require.NoError(t, err, "%s", out)
	_, err = exec.Command(passwd, "-b", pwfile, "recorder", "rec").CombinedOutput()
	require.NoError(t, err)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tlsAddr := l.Addr().String()
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	plainAddr := l2.Addr().String()
	require.NoError(t, l.Close())
	require.NoError(t, l2.Close())
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	_, plainPort, _ := net.SplitHostPort(plainAddr)
	conf := filepath.Join(dir, "mosquitto.conf")
	user := "" // as root, mosquitto would switch to its own user, which cannot read the test's files
	if os.Geteuid() == 0 {
		user = "user root\n"
	}
	require.NoError(t, os.WriteFile(conf, []byte(user+fmt.Sprintf(`per_listener_settings false
allow_anonymous false
password_file %s
persistence false
log_dest stderr
listener %s 127.0.0.1
cafile %s
certfile %s
keyfile %s
listener %s 127.0.0.1
`, pwfile, tlsPort, ca, cert, key, plainPort)), 0o600))
	cmd := exec.Command(bin, "-c", conf)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mosquitto:\n%s", logs.String())
		}
	})
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", plainAddr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "mosquitto did not start")

	rec := record(t, plainAddr, "recorder", "rec")
	cfg := mqttConfig("mqtts://" + tlsAddr)
	cfg.Username, cfg.Password, cfg.CAFile = "mvwatch", "pa ss", ca
	f := &fleet{}
	f.set(bus.CameraState{Name: "door", Phase: bus.PhaseRunning, Since: time.Now()})
	p := newPublisher(t, cfg, f, nil)
	require.NoError(t, p.Start(t.Context()))
	rec.eventually(t, "mvwatch/availability", "online")
	rec.eventually(t, "mvwatch/door/connected", "ON")
	p.PublishEvent(event.Event{ID: "e1", Camera: "door", Label: "zoom", End: time.Now()})
	rec.eventually(t, "mvwatch/door/zoom", "ON")
	require.Equal(t, 1.0, testutil.ToFloat64(p.m.connected))

	// Without the CA the broker's certificate is not trusted, and no connection is made.
	bad := cfg
	bad.CAFile, bad.ClientID = "", "untrusting"
	pb := newPublisher(t, bad, &fleet{}, nil)
	require.NoError(t, pb.Start(t.Context()))
	require.Never(t, func() bool { return testutil.ToFloat64(pb.m.connected) == 1 }, time.Second, 50*time.Millisecond)
}

// writeCerts writes a CA and a server certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mvwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}
