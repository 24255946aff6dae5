package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/forms"
)

// TestReview3_ImportTimeout: an import job keeps a deadline (Options.ImportTimeout, 10 minutes
// by default) — before, its context dropped it, so a stuck job held an import slot until the
// server stopped and wait=1 escaped the route's limit. With a tiny limit, wait=1 answers 503
// import_timeout in the caller's language and nothing is written; a background job ends with
// import_timeout too.
func TestReview3_ImportTimeout(t *testing.T) {
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.ImportTimeout = time.Nanosecond }})
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "qa", "name": map[string]string{"zh-CN": "质量"}}, 201, nil)
	if res := admin.Raw("POST", "/api/v1/apps/qa/forms", "application/json", []byte(ioForm)); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/qa/forms/receipt/publish", nil, 201, nil)
	file := []byte("物料,数量,检验结果,到货日期\n面粉,10,合格,2026-11-25\n")
	for lang, want := range map[string]string{
		"en":    "the import took longer than it may; every row written was taken back: split the file and import again",
		"zh-CN": "导入超过了允许的时长，已写入的数据均已撤回，请将文件拆小后重新导入",
	} {
		res := ioUpload(t, admin, "?wait=1&lang="+lang, "收货.csv", file)
		var body api.ErrorBody
		if err := json.Unmarshal(res.Body, &body); err != nil || res.Status != 503 || body.Error.Code != "import_timeout" || body.Error.Message != want {
			t.Fatalf("wait=1 past the job's limit (%s): %d %s", lang, res.Status, res.Body)
		}
	}
	res := ioUpload(t, admin, "?lang=en", "收货.csv", file)
	switch res.Status {
	case 503: // timed out before the job was made
		var body api.ErrorBody
		if err := json.Unmarshal(res.Body, &body); err != nil || body.Error.Code != "import_timeout" {
			t.Fatalf("background import past its limit: %s", res.Body)
		}
	case 202:
		var job forms.ImportJob
		ioDecode(t, res, 202, &job)
		job = ioJobDone(t, admin, "/api/v1/apps/qa/forms/receipt/imports/"+job.ID)
		if job.State == forms.ImportDone || job.Error == nil || job.Error.Code != "import_timeout" {
			t.Fatalf("background job past its limit: %+v", job)
		}
	default:
		t.Fatalf("background import: %d %s", res.Status, res.Body)
	}
	var list struct {
		Items []forms.Record `json:"items"`
	}
	admin.Do("GET", ioBase, nil, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("%d records after imports that ran out of time", len(list.Items))
	}
}
