package clinical

import (
	"context"
	"time"
)

// Watermark returns how far the named incremental process has got (the
// zero time when it has not started): extract loads, order pulls, the
// publication of signed reports.
func (d *DB) Watermark(ctx context.Context, source string) (time.Time, error) {
	var t time.Time
	err := d.Update(ctx, func(tx *Tx) error {
		var err error
		t, err = tx.tx.Watermark(ctx, source)
		return err
	})
	return t, err
}

// PutWatermark records how far source has got, durably.
func (d *DB) PutWatermark(ctx context.Context, source string, t time.Time) error {
	return d.Update(ctx, func(tx *Tx) error { return tx.tx.PutWatermark(ctx, source, t) })
}
