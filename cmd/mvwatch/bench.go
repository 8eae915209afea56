package main

import (
	"fmt"
	"os"
)

// benchCommands are the `mvwatch bench` sub-commands; each ends its output with one JSON line of figures.
var benchCommands = map[string]func(args []string) int{
	"extract":   runBenchExtract,
	"serve":     runBenchServe,
	"caption":   runBenchCaption,
	"thumbnail": runBenchThumbnail,
}

func runBench(args []string) int {
	if len(args) == 0 || benchCommands[args[0]] == nil {
		fmt.Fprintln(os.Stderr, "usage: mvwatch bench NAME [flags]; names:")
		for name := range benchCommands {
			fmt.Fprintln(os.Stderr, "  "+name)
		}
		return 2
	}
	return benchCommands[args[0]](args[1:])
}
