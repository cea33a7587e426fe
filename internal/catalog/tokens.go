package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const tokenCols = `id, name, owner, hash, grants, perms, created, expires, revoked`

func scanToken(sc interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var c, e, r int64
	err := sc.Scan(&t.ID, &t.Name, &t.Owner, &t.Hash, &t.Grants, &t.Perms, &c, &e, &r)
	t.Created, t.Expires, t.Revoked = fromNanos(c), fromNanos(e), fromNanos(r)
	return t, err
}

func (s *sqlStore) PutAPIToken(ctx context.Context, t APIToken) error {
	if t.ID == "" || t.Hash == "" || t.Owner == "" {
		return errors.New("catalog: API token needs an id, a hash and an owner")
	}
	_, err := s.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Owner, t.Hash, t.Grants, t.Perms, nanos(t.Created), nanos(t.Expires), nanos(t.Revoked))
	return err
}

func (s *sqlStore) GetAPIToken(ctx context.Context, id string) (APIToken, error) {
	st, err := s.readStmt(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`)
	if err != nil {
		return APIToken{}, fmt.Errorf("catalog: %w", err)
	}
	t, err := scanToken(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("API token %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("catalog: %w", err)
	}
	return t, nil
}

func (s *sqlStore) ListAPITokens(ctx context.Context, owner string) ([]APIToken, error) {
	q, args := `SELECT `+tokenCols+` FROM api_tokens ORDER BY created DESC, id`, []any{}
	if owner != "" {
		q, args = `SELECT `+tokenCols+` FROM api_tokens WHERE owner = ? ORDER BY created DESC, id`, []any{owner}
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *sqlStore) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked = 0`, nanos(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.GetAPIToken(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
