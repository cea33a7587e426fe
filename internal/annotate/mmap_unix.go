//go:build unix

package annotate

import (
	"os"
	"syscall"
)

// mapFile maps f read-only.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, nil, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, nil // fall back to reading the file whole
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
