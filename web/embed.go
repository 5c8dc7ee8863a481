// Package web holds switchboard's browser assets — the chat app, the live
// dashboard and the vendored uPlot chart library — embedded in the binary,
// so running the server needs no Node build.
package web

import (
	"embed"
	"io/fs"
)

//go:embed chat dashboard vendor
var files embed.FS

// FS returns the embedded assets, rooted at this directory: chat/,
// dashboard/ and vendor/. The returned file system is read-only and safe
// for concurrent use.
func FS() fs.FS { return files }
