package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mvwatch/mvwatch/internal/auth"
)

func runHashToken(args []string) int {
	fs := flag.NewFlagSet("hash-token", flag.ContinueOnError)
	user := fs.String("user", "", "user name (required)")
	role := fs.String("role", "viewer", "role: viewer or admin")
	stdin := fs.Bool("stdin", false, "hash the token read from standard input instead of making a random one")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch hash-token -user NAME [-role viewer|admin] [-stdin]\n\n"+
			"Makes a random token (or reads one) and prints it with the users: entry for the config, which keeps only its hashes.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	tok := ""
	if *stdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		tok = strings.TrimRight(line, "\r\n")
		if tok == "" {
			fmt.Fprintln(os.Stderr, "mvwatch hash-token: no token on standard input", err)
			return 2
		}
	}
	u, tok, err := auth.NewUser(*user, *role, tok)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mvwatch hash-token:", err)
		return 2
	}
	if !*stdin {
		fmt.Printf("# token for %s (give it to them; the config keeps only its hashes):\n# %s\n", u.Name, tok)
	}
	fmt.Printf("users:\n  - name: %s\n    role: %s\n    token_sha256: %s\n    rtsp_digest_md5: %s\n", u.Name, u.Role, u.TokenSHA256, u.RTSPDigestMD5)
	return 0
}
