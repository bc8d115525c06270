#!/bin/sh
# Checks the nested integration modules (integrations/gomlx and
# integrations/gorgonia): go.mod tidiness, gofmt, go vet, staticcheck and the
# tests, with cgo off and outside the workspace (GOWORK=off), as a user of the
# modules builds them. Needs the Go module proxy (or a warm module cache) for the
# frameworks' modules.
#
# Usage: .ci/integrations.sh                 (from anywhere)
#        STATICCHECK=0 .ci/integrations.sh   skips staticcheck v0.8.2 (about
#                                            a minute per module when cold)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
export GOWORK=off CGO_ENABLED=0

for mod in integrations/gomlx integrations/gorgonia; do
	echo "== $mod"
	cd "$root/$mod"
	if ! go mod tidy -diff; then
		echo "$mod: go.mod/go.sum are not tidy (run: cd $mod && GOWORK=off go mod tidy)" >&2
		exit 1
	fi
	unformatted=$(gofmt -l .)
	if [ -n "$unformatted" ]; then
		echo "$mod: files need gofmt:" >&2
		echo "$unformatted" >&2
		exit 1
	fi
	go vet ./...
	if [ "${STATICCHECK:-1}" != 0 ]; then
		go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	fi
	go test -count=1 ./...
done
echo "integrations: ok"
