// Package workflow runs a pipeline: a DAG of tasks, each a bash script with
// declared inputs, outputs, threads and memory, on an executor.
//
// Task lifecycle (stored in the catalog, so a killed process can resume):
//
//	           cache hit (outputs present, hashes match)
//	pending ───────────────────────────────────────────► cached
//	   │
//	   │ deps done, executor slot
//	   ▼            exit 0, outputs renamed into place
//	running ─────────────────────────────────────────► succeeded
//	   │  │
//	   │  └── transient failure ──► (backoff) ──► running   (at most Retries times)
//	   │
//	   ├──── non-zero exit / missing output ─────────► failed
//	   └──── context cancelled ──────────────────────► cancelled
//
// Outputs are written to hidden temporary names in the same directory
// (exposed to the script as $OUT_<name>) and renamed to their final paths
// only after the script succeeded and every declared output exists, so a
// crash never leaves a partial file under a final name.
//
// The call cache is keyed by a content hash of the script, the sha256 of
// every input, the names of the outputs and the versions of the tools the
// task uses. A task whose key is in the cache and whose outputs are still
// present with the recorded hashes is not run again — within a run on
// --resume, and across runs (outputs are copied from the earlier run).
package workflow
