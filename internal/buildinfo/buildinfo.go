// Package buildinfo names the build of the running binary, from what the Go
// toolchain stamped into it (runtime/debug.ReadBuildInfo).
package buildinfo

import "runtime/debug"

// Version is this build's version: stamped (the -ldflags value) when set, else
// the VCS revision Go stamped into the binary (with "-dirty" when the tree had
// changes), else "dev".
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
