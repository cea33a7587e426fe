// Package audit keeps the platform's tamper-evident audit trail: who
// (a pseudonymous principal) did which action to which resource, about
// which patient (a pseudonymous id), when, from where, how it ended, and
// the reason when access was gained by breaking the glass.
//
// # Writing
//
// A Log appends records to the catalog's hash-chained audit_events table
// (each record carries the sha256 of the one before, see catalog.AuditHash).
// Record returns only when its record is on stable storage, so a caller
// that gets an error fails its request: the trail fails closed. Concurrent
// callers are group-committed: one goroutine appends everything queued
// while the previous transaction was committing in one transaction, so the
// cost of a durable commit (a sync of the disk) is shared by the batch.
//
// Durability on SQLite: the catalog runs in WAL mode with
// synchronous=NORMAL, where a committed transaction survives a crash of
// the process (it is in the write-ahead log, which the operating system
// holds) but the last transactions before a power loss or kernel crash may
// be lost, since the log is synced only at checkpoints. That is acceptable
// for run and task state, which a resumed run rebuilds, but not for an
// audit record the request was allowed on. So the audit transaction (and
// the lake's own audit records, through Store.AppendAudit) switches its
// connection to synchronous=FULL, which syncs the write-ahead log at commit.
// On PostgreSQL the transaction sets synchronous_commit on, whatever the
// server's default.
//
// # Checkpoints
//
// Every CheckpointEvery records, and at most CheckpointInterval after a
// record, the Log signs a checkpoint: an Ed25519 signature over (seq, hash,
// time) of the newest record it wrote, stored in audit_checkpoints. The
// signing key is a 32-byte Ed25519 seed generated once, wrapped by the key
// provider under the key name "audit-signing" (so the keyring or Key Vault
// protects it like the lake's data keys) and kept in the catalog's
// audit_keys table beside its public key. `clinomics audit pubkey` prints
// the public key; an auditor who keeps it can verify the checkpoints
// without trusting the catalog (`audit verify --pubkey`).
//
// # Verifying
//
// Verify walks the chain and the checkpoints and names the first bad
// record: an edited record (its fields no longer hash to its hash), a
// missing (deleted) one, one moved to another position (its seq is hashed),
// a broken link (prev is not the hash of the record before), or, when
// someone rewrote a stretch of the chain and recomputed every hash, the
// first record after the last checkpoint that still matches. Records
// removed from the end are found as far as a signed checkpoint or an
// export cursor reaches past the new end; records after the newest
// checkpoint are reported as not yet signed.
//
// # Reading and export
//
// Report lists every record about one patient (the accounting of
// disclosures). An Exporter sends the trail to a SIEM, at least once, from
// a cursor persisted in the catalog (the last seq delivered to each
// destination), so a restart resumes and an outage is retried without
// skipping records: as JSON lines (JSONLines) or as RFC 5424 syslog
// messages over TLS with RFC 5425 octet-counting framing (Syslog).
// Receivers can drop duplicates by seq.
package audit
