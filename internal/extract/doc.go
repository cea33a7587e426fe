// Package extract loads batch extracts from an EHR (delimited files of
// patients, encounters or lab results, in the manner of Epic Clarity or
// Cerner exports) into the clinical database through a Sink, as a
// declarative mapping file says.
//
// # Mapping
//
// A mapping (YAML, read by ParseMapping or LoadMapping) names the source,
// the entity each row becomes (patient, encounter or result: the Patient,
// Encounter and Result types), the file's format, the key that identifies
// a record, the watermark column, and where each field comes from:
//
//	name: clarity_patients            # the watermark is kept under this name
//	entity: patient
//	format:
//	  delimiter: pipe                 # comma (default), tab, pipe, semicolon or one ASCII character
//	  header: true                    # default true; without one, columns are numbered from 1
//	  quote: '"'                      # default '"'; none for exports that never quote
//	  encoding: windows-1252          # utf-8 (default), iso-8859-1 (read as windows-1252), windows-1252
//	  timezone: America/Chicago       # required when a time is mapped: extract times are local
//	key: [assigning_authority, mrn]   # the default for patients
//	watermark: UPDATE_DATE
//	empty: keep                       # the default; clear for snapshot extracts
//	fields:
//	  mrn: {column: PAT_MRN_ID, transforms: [trim, upper]}
//	  assigning_authority: {value: CLARITY}
//	  family_name: {column: PAT_LAST_NAME, transforms: [trim]}
//	  given_name: {columns: [PAT_FIRST_NAME, PAT_MIDDLE_NAME], separator: " "}
//	  birth_date: {column: BIRTH_DATE, type: datetime, layouts: ["2006-01-02 15:04:05", "2006-01-02"]}
//	  sex:
//	    column: SEX_C
//	    transforms: [trim, {map: {"1": F, "2": M, "3": U, "950": O}, other: U}]
//	    default: U
//	  updated_at: {column: UPDATE_DATE, type: datetime, layout: "2006-01-02 15:04:05"}
//
// A field's value is one column, several columns trimmed and joined by a
// separator (empty ones left out), or a constant; "mrn: PAT_MRN_ID" is
// short for "mrn: {column: PAT_MRN_ID}". Its transforms (trim, upper,
// lower, map through a table, regexp keeping the first group) apply in
// order; then an empty value takes the default, or rejects the row when
// the field is required (key fields, the watermark and mrn are always
// required). Then the text is typed: string, int, decimal (kept as
// written, trailing zeros and all), date or datetime in Go layouts
// ("2006-01-02 15:04:05" for Clarity, "01/02/2006 15:04" for Cerner;
// times are in format.timezone unless the layout reads an offset).
// A date's precision follows the layout:
// a birth date read with "2006" is known to the year. Coded fields are
// checked against their HL7 tables (sex 0001, patient class 0004, result
// status 0085): map the source's codes onto them. Mistakes in a mapping
// are *MappingError values naming the YAML line and column.
//
// # Empty values
//
// "empty" says what a field a row leaves empty (empty after its
// transforms, with no default) means for the record stored under the
// row's key. With "keep", the default, it says nothing: the stored value
// stays, as an HL7 field left empty does. With "clear", the row is the
// record's whole current state (a snapshot extract), and the field is
// cleared, as HL7's null "" clears it: the record's Clear names it, by
// the clinical record's JSON name, and the clinical database's update
// rule empties it. What can be cleared: a patient's name (family_name,
// given_name: the name is one group, so a row that gives no part of it
// clears family, given and middle name, and a row that gives one part
// replaces the whole name under either rule), birth_date and sex; an
// encounter's class, location, admit and discharge (with discharge
// cleared the visit is admitted again). Never cleared: key fields,
// identifiers (mrn, assigning_authority), a visit or order number,
// updated_at, fields given as a constant, and fields with a default or
// required (they are never empty). A row older than the stored record
// clears nothing. Results are replaced whole, under either rule: a
// result's empty value is stored empty (a result without units has
// none). Any other value of "empty" is a *MappingError.
//
// # Loading
//
// Loader.Load streams the file: nothing is held but the batch being
// mapped and the batch being committed. Each batch is one Sink call, one
// transaction; the next batch is mapped while the last commits. A row
// whose watermark is at or before the one stored for the source is
// skipped without being mapped. The new watermark, the latest of the
// rows loaded, is stored in the last batch's transaction, so after a
// crash the committed batches stay, the watermark is where it was, and
// loading the file again completes it: rows already committed are
// upserted to the values they have. Loading the same file twice changes
// nothing the second time.
//
// Within a batch, a later row with the same key replaces an earlier one
// unless its updated_at is older (Summary.Superseded counts them); across
// batches and loads, the Sink keeps the record with the later updated_at.
//
// A Sink that is also a Preparer does the part of a batch's work that
// needs no transaction (keyed hashes, encryption) as the batch is sent,
// on the reading goroutine, while the batch before it commits.
//
// A row that cannot be read (wrong number of fields, an unterminated
// quote, bytes that are not the file's encoding, longer than
// MaxRecordBytes) or mapped (a bad date or number, a required value
// missing, a code not in its table, a watermark more than a day ahead) is
// written to the reject file and the load goes on. The reject file is CSV
// with the columns line, reason and row: the line the row starts on, why
// (naming the column and what was expected, never the value, e.g.
// "column BIRTH_DATE: not a date in layout 2006-01-02"), and the row as
// read, decoded to UTF-8. It holds patient data: it is created with mode
// 0600, and must be kept, moved and deleted like the extract itself.
// LoadFile writes one per load that rejects rows, named after the file
// and the load's start in UTC (RejectPath), and never replaces or
// truncates one: the reasons of an earlier load stay, though loading the
// file again skips those rows (they are at or before the watermark).
//
// An unterminated quote does not take the rest of the file with it: the
// row is rejected as its first line, and reading resumes on the next
// line.
//
// A file that cannot be loaded at all (empty, a mapped column missing from
// its header, UTF-16, a byte order mark that contradicts the mapping)
// fails with a *FileError and loads nothing.
//
// Rows rejected or skipped do not hold the watermark back: after fixing a
// mapping so that it accepts rows it rejected, load the file again with
// Loader.FullReload, which loads rows at or before the watermark too.
//
// # Watched folder
//
// Watch loads the files that appear in a folder, in name order, moving
// each to done/ or failed/ and writing its rejects to rejects/ (or
// Watch.RejectDir). See Watch.
package extract
