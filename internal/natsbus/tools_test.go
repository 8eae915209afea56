package natsbus

// The standalone nats-server binary used by TestStandaloneServer is built from this module path;
// importing it here keeps the module (and its main package's dependencies) in go.mod and go.sum.
import _ "github.com/nats-io/nats-server/v2/server"
