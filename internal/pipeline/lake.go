package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/lake"
)

// LakePrefix marks a run parameter that names a lake object (an input) or a
// lake folder (the output): "lake:samples/S1/S1_R1.fastq.gz".
const LakePrefix = "lake:"

// ErrNoLake is returned for lake paths when the runner has no lake.
var ErrNoLake = errors.New("the run names lake paths but the lake is not open (set the keyring passphrase)")

// IsLake reports whether a run parameter names a lake path.
func IsLake(p string) bool { return strings.HasPrefix(p, LakePrefix) }

func lakePath(p string) string { return strings.TrimPrefix(p, LakePrefix) }

// UsesLake reports whether any input or the output is in the lake.
func (p *GermlineParams) UsesLake() bool {
	for _, f := range p.FASTQ {
		if IsLake(f) {
			return true
		}
	}
	return IsLake(p.Targets) || IsLake(p.OutDir)
}

// checkLake validates the lake paths of p against the lake: inputs must be
// live objects, all of one patient, and Patient, when given, must be theirs.
// It fills Patient from the inputs when it is empty.
func (r *Runner) checkLake(ctx context.Context, p *GermlineParams) error {
	if !p.UsesLake() {
		return nil
	}
	if r.Lake == nil {
		return ErrNoLake
	}
	if IsLake(p.OutDir) {
		if err := lake.CheckPath(lakePath(p.OutDir)); err != nil {
			return fmt.Errorf("%w: --out: %w", ErrBadParams, err)
		}
	}
	inputs := []struct{ name, path string }{{"--targets", p.Targets}}
	for i, f := range p.FASTQ {
		inputs = append(inputs, struct{ name, path string }{fmt.Sprintf("--fastq R%d", i+1), f})
	}
	lakeIn := false
	for _, in := range inputs {
		if !IsLake(in.path) {
			continue
		}
		lakeIn = true
		o, _, err := r.Lake.Stat(ctx, lakePath(in.path))
		if errors.Is(err, lake.ErrNotFound) {
			return fmt.Errorf("%w: %s: no such lake object", ErrBadParams, in.name)
		}
		if err != nil {
			return err
		}
		switch {
		case o.Patient == "":
		case p.Patient == "":
			p.Patient = o.Patient
		case p.Patient != o.Patient:
			return fmt.Errorf("%w: %s belongs to another patient than the run's other inputs or --patient", ErrBadParams, in.name)
		}
	}
	// Outputs derived from lake data stay in the lake, under the patient's
	// key; exporting them is an audited `lake get`.
	if lakeIn && !IsLake(p.OutDir) {
		return fmt.Errorf("%w: --out: inputs from the lake need a lake output folder (lake:FOLDER)", ErrBadParams)
	}
	return nil
}

// staging is where a run's lake inputs are decrypted to and its lake
// outputs are written before they are stored: inside the run's work
// directory, which is removed once the outputs are in the lake.
type staging struct {
	dir    string // the run's work directory
	outDir string // lake folder of the outputs; "" when they stay on disk
}

// stagedInputs is the folder of a run's work directory that holds the
// decrypted copies of its lake inputs.
const stagedInputs = "inputs"

// dropInputs removes the decrypted copies of a run's lake inputs, when
// the run ends without success: a resumed run stages them again (the call
// cache keys on their content, so finished tasks are still reused), and a
// failed run no longer leaves the patient's reads in plain text on disk.
func (r *Runner) dropInputs(runID string) error {
	if r.Engine == nil || r.Engine.WorkDir == "" {
		return nil
	}
	if err := os.RemoveAll(filepath.Join(r.Engine.WorkDir, runID, stagedInputs)); err != nil {
		return fmt.Errorf("removing the run's decrypted inputs: %w", err)
	}
	return nil
}

// stageIn decrypts the lake inputs of p into the run's work directory and
// rewrites p to name the local copies; a lake output folder becomes a
// local folder there. Each copy is verified (sha256) as it is read and
// renamed into place only when complete.
func (r *Runner) stageIn(ctx context.Context, p *GermlineParams, runID, workDir string) (staging, error) {
	st := staging{dir: workDir}
	if !p.UsesLake() {
		return st, nil
	}
	if r.Lake == nil {
		return st, ErrNoLake
	}
	in := filepath.Join(workDir, stagedInputs)
	if err := os.MkdirAll(in, 0o700); err != nil {
		return st, err
	}
	stage := func(param *string, name string) error {
		if !IsLake(*param) {
			return nil
		}
		local := filepath.Join(in, name)
		if err := r.fetch(ctx, runID, p.Submitter, lakePath(*param), local); err != nil {
			return err
		}
		*param = local
		return nil
	}
	for i := range p.FASTQ {
		if err := stage(&p.FASTQ[i], fmt.Sprintf("R%d_%s", i+1, path.Base(lakePath(p.FASTQ[i])))); err != nil {
			return st, err
		}
	}
	if err := stage(&p.Targets, "targets_"+path.Base(lakePath(p.Targets))); err != nil {
		return st, err
	}
	if IsLake(p.OutDir) {
		st.outDir = lakePath(p.OutDir)
		p.OutDir = filepath.Join(workDir, "out")
	}
	return st, nil
}

// fetch copies the current version of a lake object to a local file.
func (r *Runner) fetch(ctx context.Context, runID, submitter, obj, local string) error {
	src, err := r.Lake.Open(ctx, obj)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := r.record(ctx, runID, "lake.read", src.Version(), submitter); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), ".stage-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("staging %s%s: %w", LakePrefix, obj, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("staging %s%s: %w", LakePrefix, obj, err)
	}
	return os.Rename(tmp.Name(), local)
}

// stageOut stores the final outputs in the lake folder under the run's
// patient, then removes the run's work directory with every plaintext
// intermediate. With no lake output folder it does nothing.
func (r *Runner) stageOut(ctx context.Context, st staging, p *GermlineParams, runID string) error {
	if st.outDir == "" {
		return nil
	}
	out := GermlineOutputs(p)
	for _, f := range []string{out.BAM, out.BAI, out.VCF, out.TBI, out.GVCF, out.GTBI, out.QC} {
		if err := r.store(ctx, f, st.outDir+"/"+filepath.Base(f), p.Patient, runID, p.Submitter); err != nil {
			return err
		}
	}
	return r.wipe(st)
}

func (r *Runner) store(ctx context.Context, local, obj, patient, runID, submitter string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	v, err := r.Lake.Put(ctx, obj, f, lake.PutOptions{Patient: patient, RunID: runID})
	if err != nil {
		return err
	}
	return r.record(ctx, runID, "lake.write", v, submitter)
}

// record audits the run's access to a patient's object, naming who
// submitted the run.
func (r *Runner) record(ctx context.Context, runID, action string, v catalog.ObjectVersion, submitter string) error {
	o, err := r.Store.GetObject(ctx, v.Path)
	if err != nil {
		return err
	}
	e := audit.ObjectAccess("run:"+runID, "pipeline", action, v.Path, v.ID, o.Patient)
	if submitter != "" {
		e.Detail = "submitted by " + submitter
	}
	return audit.Append(ctx, r.Store, e)
}

// wipe removes a run's work directory once nothing in it is needed.
func (r *Runner) wipe(st staging) error {
	if err := os.RemoveAll(st.dir); err != nil {
		return fmt.Errorf("removing the run's work directory: %w", err)
	}
	return nil
}
