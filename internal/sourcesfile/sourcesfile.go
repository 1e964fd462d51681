// Package sourcesfile reads Tradewind's sources file (TRADEWIND_SOURCES_FILE):
// one YAML file with the webhook sources, the downstream destinations and the
// dashboard's operators. Values written "env:NAME" are read from the
// environment, and every error names the file, the entry and the offending key,
// and says what would be valid.
package sourcesfile

import (
	"fmt"
	"os"

	"github.com/tradewind/tradewind/domain"
)

// File is what a sources file configures for a process: its sources, and its
// destinations checked against them. The operators are read on their own
// (LoadOperators): only the HTTP server needs them.
type File struct {
	Sources      domain.Sources
	Destinations []domain.Destination
}

// Load reads and checks the sources file at path; getenv resolves env:NAME.
func Load(path string, getenv func(string) (string, bool)) (File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("sources file: %w (set TRADEWIND_SOURCES_FILE to an existing file)", err)
	}
	return Parse(path, raw, getenv)
}

// Parse reads the bytes of the sources file named path: the sources, then the
// destinations, resolved against the sources (ResolveDestinations).
func Parse(path string, raw []byte, getenv func(string) (string, bool)) (File, error) {
	sources, err := ParseSources(path, raw, getenv)
	if err != nil {
		return File{}, err
	}
	destinations, err := ParseDestinations(path, raw, getenv)
	if err != nil {
		return File{}, err
	}
	if err := ResolveDestinations(path, destinations, sources); err != nil {
		return File{}, err
	}
	return File{Sources: sources, Destinations: destinations}, nil
}
