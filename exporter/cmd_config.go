package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/kwindow/kwindow/exporter/config"
)

func addConfigCommand(app *kingpin.Application, _ *globals) {
	cmd := app.Command("config", "Configuration helpers.")
	cmd.Command("example", "Print the annotated example configuration (the defaults).").Action(func(*kingpin.ParseContext) error {
		_, err := os.Stdout.Write(config.Example())
		return err
	})
	check := cmd.Command("check", "Validate a configuration file and exit.")
	file := check.Arg("file", "Configuration file.").Required().ExistingFile()
	check.Action(func(*kingpin.ParseContext) error {
		if _, err := config.LoadFile(*file); err != nil {
			return err
		}
		fmt.Printf("%s: ok\n", *file)
		return nil
	})
}
