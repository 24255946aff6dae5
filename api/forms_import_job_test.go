package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tracecraft/api/apitest"
	"tracecraft/forms"
)

func ioDecode(t *testing.T, res apitest.Response, status int, out any) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if err := json.Unmarshal(res.Body, out); err != nil {
		t.Fatalf("%v: %s", err, res.Body)
	}
}

// ioJobDone polls an import job until it has ended.
func ioJobDone(t *testing.T, c *apitest.Client, location string) forms.ImportJob {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var job forms.ImportJob
		c.Do("GET", location, nil, 200, &job)
		if job.State.Finished() {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("import job still %s after a minute: %+v", job.State, job)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestImportJobOverHTTP (issue 8 item 5): an import answers 202 with a job at once; the job,
// read by its starter, goes to done with every row written and its report; nobody else but an
// administrator can read it; a file with bad rows fails its job with every error and writes
// nothing; a dry run previews the rows as they would be stored.
func TestImportJobOverHTTP(t *testing.T) {
	e := startIO(t)
	lines := strings.Split(ioMixedFile, "\n")
	good := strings.Join([]string{lines[0], lines[1], lines[3], lines[5]}, "\n") + "\n"
	res := ioUpload(t, e.clerk, "", "收货.csv", []byte(good))
	var job forms.ImportJob
	ioDecode(t, res, 202, &job)
	location := "/api/v1/apps/qa/forms/receipt/imports/" + job.ID
	if job.ID == "" || res.Header.Get("Location") != location || job.Rows != 3 || job.CreatedBy != "carl" || job.Format != "csv" {
		t.Fatalf("202 %v %s", res.Header, res.Body)
	}
	job = ioJobDone(t, e.clerk, location)
	if job.State != forms.ImportDone || job.Validated != 3 || job.Written != 3 || job.Error != nil || job.FinishedAt == nil ||
		job.Report == nil || job.Report.Imported != 3 || len(job.Errors) != 0 {
		t.Fatalf("finished job %+v", job)
	}
	if recs := e.records(t); len(recs) != 3 || recs[0].Data["no"] != "RC0001" || recs[2].Data["material"] != "黄油" {
		t.Fatalf("records %+v", recs)
	}
	// Only its starter and administrators see the job.
	e.admin.Do("GET", location, nil, 200, nil)
	e.auditor.Do("GET", location, nil, 404, nil)
	e.clerk.Do("GET", "/api/v1/apps/qa/forms/other/imports/"+job.ID, nil, 404, nil)
	e.clerk.Do("GET", "/api/v1/apps/qa/forms/receipt/imports/nope", nil, 404, nil)

	// Bad rows: the job fails with all of them, nothing is written.
	res = ioUpload(t, e.clerk, "?lang=en", "收货.csv", []byte(ioMixedFile))
	ioDecode(t, res, 202, &job)
	job = ioJobDone(t, e.clerk, "/api/v1/apps/qa/forms/receipt/imports/"+job.ID)
	if job.State != forms.ImportFailed || job.Validated != 5 || job.Written != 0 || len(job.Errors) != 2 || job.ErrorCount != 2 ||
		job.Errors[0].Row != 3 || job.Error == nil || job.Error.Code != "import_invalid" || job.Error.Message != "the file has 2 errors; nothing was imported" ||
		job.Report == nil || len(job.Report.Errors) != 2 || job.Report.Imported != 0 {
		t.Fatalf("failed job %+v", job)
	}
	if n := len(e.records(t)); n != 3 {
		t.Fatalf("%d records after a failed job", n)
	}

	// A dry run answers at once, with the first rows as they would be stored.
	rep := ioReport(t, ioUpload(t, e.clerk, "?dryRun=1", "收货.csv", []byte(ioMixedFile)), 200)
	if len(rep.Preview) != 5 || !rep.Preview[0].Valid || rep.Preview[0].Data["result"] != "pass" || rep.Preview[0].Data["qty"] != 10.0 ||
		rep.Preview[1].Valid || rep.Preview[1].Row != 3 || len(rep.Errors) != 2 {
		t.Fatalf("dry run %+v", rep)
	}
}
