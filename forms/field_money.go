package forms

import (
	"regexp"

	"tracecraft/engine"
)

// FieldTypeMoney is the x-type of an amount of money.
const FieldTypeMoney = "money"

// MoneyOptions are the x-options of a money (金额) field.
type MoneyOptions struct {
	// Currency is the ISO 4217 code the amounts are in: three capital letters (default "CNY").
	Currency string `json:"currency,omitempty"`
	// Precision is how many decimals an amount may have, 0–4 (default 2, fen).
	Precision *int `json:"precision,omitempty"`
}

const (
	moneyDefaultCurrency  = "CNY"
	moneyDefaultPrecision = 2
	moneyMaxPrecision     = 4
)

var moneyCurrencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// moneyState is what Compile leaves in Field.State: the options with defaults filled in.
type moneyState struct {
	currency  string
	precision int
}

// moneyField is an amount in one currency, stored as a float64 like a number (amounts in a
// traceability record are prices and costs, not ledger balances). Inputs are read as for
// number fields.
type moneyField struct{}

func (moneyField) ID() string { return FieldTypeMoney }

func (moneyField) Label() engine.Text { return engine.Text{ZH: "金额", EN: "Amount"} }

func (moneyField) Compile(c *CompileContext, f *Field) error {
	var opts MoneyOptions
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &opts)); err != nil {
		return err
	}
	st := &moneyState{currency: opts.Currency}
	if st.currency == "" {
		st.currency = moneyDefaultCurrency
	} else if !moneyCurrencyPattern.MatchString(st.currency) {
		fe.Add("x-options.currency", "pattern", map[string]any{"pattern": moneyCurrencyPattern.String()})
	}
	st.precision = checkPrecision(&fe, opts.Precision, moneyDefaultPrecision, moneyMaxPrecision)
	addFieldErrors(&fe, checkFieldKeywords(f, numberKeywords...))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = st
	return nil
}

func (moneyField) Schema(f *Field) map[string]any {
	if st, ok := f.State.(*moneyState); ok && st.precision == 0 {
		return map[string]any{"type": "integer"}
	}
	return map[string]any{"type": "number"}
}

func (moneyField) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprNumber}
}

func (moneyField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	st, err := fieldState[*moneyState](f)
	if err != nil {
		return nil, err
	}
	return prepareDecimal(in, st.precision)
}

func init() { RegisterFieldType(moneyField{}) }

var _ FieldType = (*moneyField)(nil)
