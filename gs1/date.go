package gs1

import (
	"fmt"
	"time"
)

// DateOf reads a GS1 date, YYMMDD, optionally followed by hour, minute and second (YYMMDDHH,
// YYMMDDHHMM, YYMMDDHHMMSS), as a time in now's location.
//
// The century follows the GS1 rule (General Specifications §7.12): a two-digit year from 51 to
// 99 years ahead of now's year is in the previous century, one from 50 to 99 years behind is in
// the next, any other in the current century; dates thus fall from 49 years before to 50 years
// after now. In a six-digit date, day 00 means the last day of the month. A zero now means
// time.Now().
func DateOf(value string, now time.Time) (time.Time, error) {
	if now.IsZero() {
		now = time.Now()
	}
	switch len(value) {
	case 6, 8, 10, 12:
	default:
		return time.Time{}, &Error{Position: 0, Message: fmt.Sprintf("a date must be YYMMDD, YYMMDDHH, YYMMDDHHMM or YYMMDDHHMMSS, got %d characters", len(value))}
	}
	for i := 0; i < len(value); i++ {
		if value[i] < '0' || value[i] > '9' {
			return time.Time{}, &Error{Position: i, Message: fmt.Sprintf("character %q is not a digit", runeAt(value, i))}
		}
	}
	year := centuryYear(num(value[:2]), now.Year())
	month, day := num(value[2:4]), num(value[4:6])
	if month < 1 || month > 12 {
		return time.Time{}, &Error{Position: 2, Message: fmt.Sprintf("month %02d is not valid", month)}
	}
	last := daysIn(year, month)
	if day == 0 && len(value) == 6 {
		day = last
	}
	if day < 1 || day > last {
		return time.Time{}, &Error{Position: 4, Message: fmt.Sprintf("day %02d is not valid in %04d-%02d", day, year, month)}
	}
	var clock [3]int
	for i, limit := range []int{23, 59, 59} {
		at := 6 + 2*i
		if at >= len(value) {
			break
		}
		if clock[i] = num(value[at : at+2]); clock[i] > limit {
			return time.Time{}, &Error{Position: at, Message: fmt.Sprintf("%s %02d is not valid", [3]string{"hour", "minute", "second"}[i], clock[i])}
		}
	}
	return time.Date(year, time.Month(month), day, clock[0], clock[1], clock[2], 0, now.Location()), nil
}

// centuryYear places the two-digit year yy in the century the GS1 rule gives relative to the
// year now.
func centuryYear(yy, now int) int {
	century := now - now%100
	switch diff := yy - now%100; {
	case diff >= 51:
		return century - 100 + yy
	case diff <= -50:
		return century + 100 + yy
	}
	return century + yy
}

// daysIn gives the number of days in month of year.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
