module github.com/autodrop-go/autodrop

go 1.26
