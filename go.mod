module github.com/clinomics/clinomics

go 1.26.8
