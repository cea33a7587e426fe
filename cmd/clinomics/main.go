// Command clinomics is the precision-medicine platform: one binary with a
// subcommand table (see internal/cli).
package main

import (
	"os"

	"github.com/clinomics/clinomics/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
