package app

// Role selects what an App runs.
type Role string

// Roles.
const (
	// RoleBoth runs the camera worker and the event service in one process (the default).
	RoleBoth Role = "both"
	// RoleWorker runs only the cameras (fleet and restream), publishing to the bus.
	RoleWorker Role = "worker"
	// RoleEvents runs only the event service (store, hub, webhooks, enrichment, API), consuming from
	// the bus.
	RoleEvents Role = "events"
)

func (r Role) worker() bool { return r == RoleBoth || r == RoleWorker }
func (r Role) events() bool { return r == RoleBoth || r == RoleEvents }
