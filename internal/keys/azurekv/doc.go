// Package azurekv is the Azure Key Vault keys.Provider: the key-encryption
// keys live in the vault and never leave it; data keys are sent there to be
// wrapped and unwrapped.
//
// Each of our keys ("lake", "patient-<id>") is one RSA key in the vault
// (3072 bits unless Options.KeySize says 4096; RSA-HSM with Options.HSM),
// created on first use and limited to the wrapKey and unwrapKey operations.
// Its vault name is our name escaped (Key Vault names are
// case-insensitive; see names.go) behind Options.Prefix, and it carries the
// tag clinomics-key with our name.
//
//   - Wrap reads the key's newest version and wraps the data key with
//     RSA-OAEP-256 under that exact version, which Wrapped.Version records.
//   - Unwrap unwraps with the version recorded in Wrapped.Version, never
//     the newest one. A blob the vault cannot decrypt (tampered, or from
//     another key) is keys.ErrUnwrap; no bytes are returned then.
//   - Rotate creates a new version (create on an existing name, with the
//     provider's type and size; not the vault's rotation policy); older
//     versions keep unwrapping.
//   - Destroy leaves a tombstone, deletes the key and purges it where the
//     vault allows.
//
// # Destroyed or never existed
//
// Key Vault forgets a purged key completely, and a soft-deleted key
// disappears at the end of the vault's retention period; after that "not
// found" cannot tell a crypto-shredded patient from a new one, and Wrap
// would quietly create a fresh key for a shredded patient. So Destroy first
// creates a tombstone: a disabled EC P-256 key named "<vault name>-0destroyed"
// (a name no escaped key name can have), holding nothing that wraps or
// unwraps, tagged clinomics-destroyed with the time. A key that is missing
// while its tombstone exists, or that is soft-deleted (by Destroy or by hand
// in the portal), is keys.ErrDestroyed for Wrap, Unwrap and Rotate; only a
// key with neither is keys.ErrNotFound. Deleting a tombstone by hand undoes
// this protection, not the shredding.
//
// # What crypto-shredding means on Key Vault
//
// Key Vault keeps soft delete on: a deleted key stays recoverable
// (keys/recover permission) for the vault's retention period, 7 to 90 days.
// Destroy therefore purges the deleted key right away, waiting up to
// Options.PurgeWait for the deletion to finish. Purging needs the
// keys/purge permission and a vault without purge protection:
//
//   - without purge protection, and with the permission, the key is gone
//     for good when Destroy returns;
//   - with purge protection (the vault's recovery level lacks "Purgeable")
//     no one can purge it: the material stays recoverable until the
//     scheduled purge date, and Destroy logs that date;
//   - without the permission, Destroy logs a warning and the same holds.
//
// In the last two cases Destroy still succeeds: the key can no longer be
// used, and the vault destroys the material at the end of retention.
// Backups taken with keys/backup can restore a key, even after a purge,
// into a vault of the same subscription and geography; do not grant that
// permission to anyone who should not be able to undo a shred.
//
// # Errors and permissions
//
// Refusals and failures the vault reports are *VaultError: the vault, our
// key name, the operation, the HTTP status and Key Vault's code and message
// (a bearer token or anything like one is cut out). The identity needs the
// key permissions get, create, wrapKey, unwrapKey, delete and purge (the
// built-in role Key Vault Crypto Officer has them). The SDK retries
// throttling (429) and server errors (5xx) by its retry options, which
// Options.ClientOptions sets.
//
// # Testing
//
// The provider is tested against kvtest, a hand-written Key Vault REST
// server (create, get, wrapkey, unwrapkey, rotate, delete, deleted-key get
// and purge, the bearer challenge, Key Vault's error shape, real RSA-OAEP-256)
// driven by the real SDK client; not against a real vault. Set
// CLINOMICS_TEST_AZURE_KEY_VAULT_URL (and credentials DefaultAzureCredential
// finds) to run the conformance suite against a real one.
package azurekv
