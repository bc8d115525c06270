module github.com/autodrop-go/autodrop/cmd/autodrop

go 1.26

require github.com/autodrop-go/autodrop v0.0.0

replace github.com/autodrop-go/autodrop => ../..
