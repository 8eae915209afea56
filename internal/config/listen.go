package config

// Listen holds the addresses mvwatch listens on. Port 0 asks the system for a free port (tests).
type Listen struct {
	// HTTP is the HTTP API address. It defaults to ":8080". Env: MVWATCH_HTTP_ADDR. Flag: -http.
	HTTP string `yaml:"http" json:"http"`
	// RTSP is the restream server address. It defaults to ":8554". Env: MVWATCH_RTSP_ADDR. Flag: -rtsp.
	RTSP string `yaml:"rtsp" json:"rtsp"`
}

func (l *Listen) applyDefaults() {
	setStr(&l.HTTP, DefaultHTTPAddr)
	setStr(&l.RTSP, DefaultRTSPAddr)
}

func (l Listen) validate(p *problems) {
	if err := CheckListenAddr(l.HTTP); err != nil {
		p.bad("listen.http", "%v", err)
	}
	if err := CheckListenAddr(l.RTSP); err != nil {
		p.bad("listen.rtsp", "%v", err)
	}
}
