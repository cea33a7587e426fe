// Package lake is the platform's object store: every FASTQ, BAM, VCF and
// report it keeps. Objects are encrypted with a fresh data key each
// (AES-256-GCM in 64 KiB chunks, so any byte range decrypts on its own and
// memory stays constant whatever the size); the data key is wrapped by a
// key-encryption key from a keys.Provider and kept, with the plaintext's
// sha256, in the catalog. Objects are versioned (an overwrite keeps the old
// version), soft-deleted with a retention window, can be put under legal
// hold or immutable (WORM) retention, and move to an archive tier by rule.
//
// Ciphertext lives in a Backend: the local filesystem (the default) or
// Azure Blob Storage. Backends only ever see ciphertext.
package lake
