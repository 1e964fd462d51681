package simulate

import "os"

// DevAPIToken is the API token `make run` (scripts/run.sh) and docker-compose.yml
// give Tradewind when TRADEWIND_API_TOKEN is not set.
const DevAPIToken = "dev-token-0123456789abcdef"

// FromEnv fills in what a run takes from Tradewind's environment: the sources file
// (o.SourcesFile, else TRADEWIND_SOURCES_FILE, else examples/sources.yaml when it
// exists, else none), TRADEWIND_LISTEN for the default URL, and the API token
// (TRADEWIND_API_TOKEN, else DevAPIToken).
func (o *Options) FromEnv(getenv func(string) (string, bool)) {
	if o.SourcesFile == "" {
		o.SourcesFile, _ = getenv("TRADEWIND_SOURCES_FILE")
	}
	if _, err := os.Stat("examples/sources.yaml"); o.SourcesFile == "" && err == nil {
		o.SourcesFile = "examples/sources.yaml"
	}
	o.Listen, _ = getenv("TRADEWIND_LISTEN")
	if o.APIToken, _ = getenv("TRADEWIND_API_TOKEN"); o.APIToken == "" {
		o.APIToken = DevAPIToken
	}
}
