package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func (s *sqlStore) PutSequencerRun(ctx context.Context, r SequencerRun) error {
	if r.Name == "" {
		return errors.New("catalog: sequencer run name is empty")
	}
	now := time.Now()
	if r.Created.IsZero() {
		r.Created = now
	}
	if r.Updated.IsZero() {
		r.Updated = now
	}
	_, err := s.exec(ctx, `INSERT INTO sequencer_runs (name, instrument, state, error, samples, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET instrument = excluded.instrument, state = excluded.state,
			error = excluded.error, samples = excluded.samples, updated = excluded.updated`,
		r.Name, r.Instrument, r.State, r.Error, r.Samples, nanos(r.Created), nanos(r.Updated))
	return err
}

const seqRunCols = `name, instrument, state, error, samples, created, updated`

func scanSeqRun(sc interface{ Scan(...any) error }) (SequencerRun, error) {
	var r SequencerRun
	var c, u int64
	err := sc.Scan(&r.Name, &r.Instrument, &r.State, &r.Error, &r.Samples, &c, &u)
	r.Created, r.Updated = fromNanos(c), fromNanos(u)
	return r, err
}

func (s *sqlStore) GetSequencerRun(ctx context.Context, name string) (SequencerRun, error) {
	r, err := scanSeqRun(s.db.QueryRowContext(ctx, s.q(`SELECT `+seqRunCols+` FROM sequencer_runs WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sequencer run %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("catalog: %w", err)
	}
	return r, nil
}

func (s *sqlStore) ListSequencerRuns(ctx context.Context) ([]SequencerRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+seqRunCols+` FROM sequencer_runs ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []SequencerRun
	for rows.Next() {
		r, err := scanSeqRun(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) PutSampleFASTQ(ctx context.Context, f SampleFASTQ) error {
	if f.SampleID == "" || f.RunName == "" || f.R1 == "" {
		return errors.New("catalog: sample FASTQ needs a sample, a run and R1")
	}
	_, err := s.exec(ctx, `INSERT INTO sample_fastqs (sample_id, run_name, lane, r1, r2) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (sample_id, run_name, lane) DO UPDATE SET r1 = excluded.r1, r2 = excluded.r2`,
		f.SampleID, f.RunName, f.Lane, f.R1, f.R2)
	return err
}

func (s *sqlStore) ListSampleFASTQs(ctx context.Context, sampleID string) ([]SampleFASTQ, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT sample_id, run_name, lane, r1, r2 FROM sample_fastqs
		WHERE sample_id = ? ORDER BY run_name, lane`), sampleID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []SampleFASTQ
	for rows.Next() {
		var f SampleFASTQ
		if err := rows.Scan(&f.SampleID, &f.RunName, &f.Lane, &f.R1, &f.R2); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
