package gs1_test

import (
	"fmt"
	"testing"
	"time"

	"tracecraft/gs1"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestDateOfCenturyRule(t *testing.T) {
	now := day(2026, 11, 25)
	tests := []struct {
		value string
		now   time.Time
		want  time.Time
	}{
		{"491231", now, day(2049, 12, 31)},           // 23 years ahead
		{"770101", now, day(1977, 1, 1)},             // 51 years ahead: previous century
		{"760101", now, day(2076, 1, 1)},             // 50 years ahead: still this century
		{"261125", now, day(2026, 11, 25)},           // this year
		{"000101", now, day(2000, 1, 1)},             // 26 years behind
		{"000101", day(2051, 1, 1), day(2100, 1, 1)}, // 51 years behind: next century
		{"000101", day(2050, 6, 1), day(2100, 1, 1)}, // 50 years behind: next century
		{"010101", day(2050, 6, 1), day(2001, 1, 1)}, // 49 years behind: this century
		{"490101", day(1999, 1, 1), day(2049, 1, 1)},
		{"500101", day(1999, 1, 1), day(1950, 1, 1)},
	}
	for _, tt := range tests {
		got, err := gs1.DateOf(tt.value, tt.now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("DateOf(%s, %d) = %v, %v; want %v", tt.value, tt.now.Year(), got, err, tt.want.Format(time.DateOnly))
		}
	}
}

// TestDateOfWindow checks every two-digit year against the rule as the GS1 General
// Specifications state it: the date falls between 49 years before and 50 years after now.
func TestDateOfWindow(t *testing.T) {
	for _, year := range []int{1999, 2000, 2001, 2026, 2049, 2050, 2051, 2099} {
		now := day(year, 7, 1)
		for yy := range 100 {
			got, err := gs1.DateOf(fmt.Sprintf("%02d0101", yy), now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Year()%100 != yy || got.Year() < year-49 || got.Year() > year+50 {
				t.Errorf("now %d: %02d gives %d, outside %d..%d", year, yy, got.Year(), year-49, year+50)
			}
		}
	}
}

func TestDateOfForms(t *testing.T) {
	now := day(2026, 11, 25)
	tests := []struct {
		value string
		want  time.Time
	}{
		{"250200", day(2025, 2, 28)}, // day 00: last day of February
		{"240200", day(2024, 2, 29)}, // of a leap year
		{"250400", day(2025, 4, 30)},
		{"251200", day(2025, 12, 31)},
		{"000229", day(2000, 2, 29)},
		{"25123112", time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)},
		{"2512311230", time.Date(2025, 12, 31, 12, 30, 0, 0, time.UTC)},
		{"251231123059", time.Date(2025, 12, 31, 12, 30, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := gs1.DateOf(tt.value, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("DateOf(%s) = %v, %v; want %v", tt.value, got, err, tt.want)
		}
	}
	shanghai := time.FixedZone("CST", 8*3600)
	got, _ := gs1.DateOf("251231", now.In(shanghai))
	if got.Location() != shanghai || got.Hour() != 0 {
		t.Errorf("date not at midnight in now's zone: %v", got)
	}
}

func TestDateOfErrors(t *testing.T) {
	now := day(2026, 11, 25)
	tests := map[string]string{
		"2513":         "gs1: at position 0: a date must be YYMMDD, YYMMDDHH, YYMMDDHHMM or YYMMDDHHMMSS, got 4 characters",
		"25A231":       "gs1: at position 2: character 'A' is not a digit",
		"251301":       "gs1: at position 2: month 13 is not valid",
		"250230":       "gs1: at position 4: day 30 is not valid in 2025-02",
		"250229":       "gs1: at position 4: day 29 is not valid in 2025-02",
		"2502001200":   "gs1: at position 4: day 00 is not valid in 2025-02",
		"2512312400":   "gs1: at position 6: hour 24 is not valid",
		"2512311260":   "gs1: at position 8: minute 60 is not valid",
		"251231123060": "gs1: at position 10: second 60 is not valid",
	}
	for in, want := range tests {
		_, err := gs1.DateOf(in, now)
		if err == nil || err.Error() != want {
			t.Errorf("DateOf(%s) error = %v, want %s", in, err, want)
		}
	}
	// 29 February 2100 does not exist: "00" means 2100 from 2060 on.
	if _, err := gs1.DateOf("000229", day(2060, 1, 1)); err == nil || err.Error() != "gs1: at position 4: day 29 is not valid in 2100-02" {
		t.Errorf("DateOf(000229) in 2060: %v", err)
	}
}

func TestElementsDateAt(t *testing.T) {
	now := day(2026, 11, 25)
	e := els("01=09501101530003", "17=250200", "7003=2512311230", "7007=251101251103", "8008=2511200815", "10=L1")
	tests := []struct {
		ai   string
		want time.Time
	}{
		{"17", day(2025, 2, 28)},
		{"7003", time.Date(2025, 12, 31, 12, 30, 0, 0, time.UTC)},
		{"7007", day(2025, 11, 1)},
		{"8008", time.Date(2025, 11, 20, 8, 15, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := e.DateAt(tt.ai, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("DateAt(%s) = %v, %v; want %v", tt.ai, got, err, tt.want)
		}
	}
	errs := map[string]string{
		"10": "gs1: AI (10): value is not a date",
		"11": "gs1: AI (11): not present",
		"89": "gs1: AI (89): unknown AI",
	}
	for ai, want := range errs {
		if _, err := e.DateAt(ai, now); err == nil || err.Error() != want {
			t.Errorf("DateAt(%s) error = %v, want %s", ai, err, want)
		}
	}
	if _, err := els("17=251301").DateAt("17", now); err == nil || err.Error() != "gs1: AI (17): month 13 is not valid" {
		t.Errorf("bad date by hand: %v", err)
	}
	if got, err := els("17=491231").Date("17"); err != nil || got.Year() != 2049 {
		t.Errorf("Date = %v, %v", got, err)
	}
}

func TestElementsDecimal(t *testing.T) {
	e := els("3103=000500", "3102=012500", "3201=001234", "3105=123456", "3100=000001",
		"3922=2599", "3932=1562599", "3300=001200", "3150=000750", "10=L1")
	tests := []struct {
		ai   string
		want float64
		unit string
	}{
		{"3103", 0.5, "kg"},
		{"3102", 125, "kg"},
		{"3201", 123.4, "lb"},
		{"3105", 1.23456, "kg"},
		{"3100", 1, "kg"},
		{"3922", 25.99, ""},
		{"3932", 25.99, "156"},
		{"3300", 1200, "kg"},
		{"3150", 750, "l"},
	}
	for _, tt := range tests {
		got, unit, err := e.Decimal(tt.ai)
		if err != nil || got != tt.want || unit != tt.unit {
			t.Errorf("Decimal(%s) = %v %q, %v; want %v %q", tt.ai, got, unit, err, tt.want, tt.unit)
		}
	}
	if _, _, err := e.Decimal("10"); err == nil || err.Error() != "gs1: AI (10): value is not a decimal quantity" {
		t.Errorf("Decimal(10): %v", err)
	}
	if _, _, err := e.Decimal("3202"); err == nil || err.Error() != "gs1: AI (3202): not present" {
		t.Errorf("Decimal(3202): %v", err)
	}
}
