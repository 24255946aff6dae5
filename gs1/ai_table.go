package gs1

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// row is one line of the AI table: one AI, or a range first..last whose last digit is the
// decimal position (310n) or a sequence number (7030–7039, 91–99).
type row struct {
	ai, last string
	spec     string // value format with linters: "N6,yymmdd [N6,yymmdd]"
	title    string // GS1 data title; "%d" takes the last digit of a ranged AI
	zh, en   string
	unit     string
	decimal  bool // the last digit of the AI is the number of implied decimal places
	// flags and attrs are the AI's flags and attributes as the GS1 Barcode Syntax Dictionary
	// writes them: "*" predefined length (checked against predefinedLength), "?" allowed as a
	// Digital Link data attribute; "req=01+21,02" mandatory partners (one group, all of it),
	// "ex=01,310n" invalid pairs ("n" any digit), "dlpkey" / "dlpkey=22,10,21|235" a Digital
	// Link primary key and its qualifier sequences. Qualifier sequences naming an AI this table
	// lacks (7040 after 414, 417 and 8004) are left out.
	flags, attrs string
}

// rows are the AIs food traceability needs, with formats, flags and attributes from the GS1
// Barcode Syntax Dictionary (github.com/gs1/gs1-syntax-dictionary, gs1-syntax-dictionary.txt
// as of July 2026; 423/425 and 8008 keep an equivalent older form of their format). Kept in AI
// order.
var rows = []row{
	{ai: "00", flags: "*?", attrs: "dlpkey", spec: "N18,csum", title: "SSCC", zh: "系列货运包装箱代码", en: "Serial Shipping Container Code (SSCC)"},
	{ai: "01", flags: "*?", attrs: "ex=255,37 dlpkey=22,10,21|235", spec: "N14,csum", title: "GTIN", zh: "全球贸易项目代码", en: "Global Trade Item Number (GTIN)"},
	{ai: "02", flags: "*?", attrs: "ex=01,03 req=37", spec: "N14,csum", title: "CONTENT", zh: "所含贸易项目的GTIN", en: "GTIN of contained trade items"},
	{ai: "10", flags: "?", attrs: "req=01,02,03,8006,8026", spec: "X..20", title: "BATCH/LOT", zh: "批号", en: "Batch or lot number"},
	{ai: "11", flags: "*?", attrs: "req=01,02,03,8006,8026", spec: "N6,yymmd0", title: "PROD DATE", zh: "生产日期", en: "Production date"},
	{ai: "12", flags: "*?", attrs: "req=8020", spec: "N6,yymmd0", title: "DUE DATE", zh: "付款截止日期", en: "Due date"},
	{ai: "13", flags: "*?", attrs: "req=01,02,03,8006,8026", spec: "N6,yymmd0", title: "PACK DATE", zh: "包装日期", en: "Packaging date"},
	{ai: "15", flags: "*?", attrs: "req=01,02,03,8006,8026", spec: "N6,yymmd0", title: "BEST BEFORE or BEST BY", zh: "最佳食用日期", en: "Best before date"},
	{ai: "16", flags: "*?", attrs: "req=01,02,03,8006,8026", spec: "N6,yymmd0", title: "SELL BY", zh: "销售截止日期", en: "Sell by date"},
	{ai: "17", flags: "*?", attrs: "req=01,02,03,255,8006,8026", spec: "N6,yymmd0", title: "USE BY or EXPIRY", zh: "有效期至", en: "Expiration date"},
	{ai: "20", flags: "*?", attrs: "req=01,02,03,8006,8026", spec: "N2", title: "VARIANT", zh: "产品变体", en: "Internal product variant"},
	{ai: "21", flags: "", attrs: "req=01,03,8006 ex=235", spec: "X..20", title: "SERIAL", zh: "序列号", en: "Serial number"},
	{ai: "22", flags: "", attrs: "req=01", spec: "X..20", title: "CPV", zh: "消费产品变体", en: "Consumer product variant"},
	{ai: "235", flags: "", attrs: "req=01", spec: "X..28", title: "TPX", zh: "第三方控制的序列化扩展", en: "Third-party controlled, serialised extension of GTIN"},
	{ai: "240", flags: "?", attrs: "req=01,02,03,8006,8026", spec: "X..30", title: "ADDITIONAL ID", zh: "附加产品标识", en: "Additional product identification"},
	{ai: "241", flags: "?", attrs: "req=01,02,03,8006,8026", spec: "X..30", title: "CUST. PART No.", zh: "客户方代码", en: "Customer part number"},
	{ai: "250", flags: "?", attrs: "req=01+21,03+21,8006+21", spec: "X..30", title: "SECONDARY SERIAL", zh: "二级序列号", en: "Secondary serial number"},
	{ai: "251", flags: "?", attrs: "req=01,03,8006", spec: "X..30", title: "REF. TO SOURCE", zh: "源实体参考代码", en: "Reference to source entity"},
	{ai: "254", flags: "", attrs: "req=414", spec: "X..20", title: "GLN EXTENSION COMPONENT", zh: "全球位置码扩展部分", en: "GLN extension component"},
	{ai: "30", flags: "?", attrs: "req=01,02", spec: "N..8", title: "VAR. COUNT", zh: "可变数量", en: "Variable count of items"},
	{ai: "3100", last: "3105", flags: "*?", attrs: "req=01,02 ex=310n", spec: "N6", title: "NET WEIGHT (kg)", zh: "净重（千克）", en: "Net weight, kilograms", unit: "kg", decimal: true},
	{ai: "3150", last: "3155", flags: "*?", attrs: "req=01,02 ex=315n", spec: "N6", title: "NET VOLUME (l)", zh: "净体积（升）", en: "Net volume, litres", unit: "l", decimal: true},
	{ai: "3160", last: "3165", flags: "*?", attrs: "req=01,02 ex=316n", spec: "N6", title: "NET VOLUME (m³)", zh: "净体积（立方米）", en: "Net volume, cubic metres", unit: "m3", decimal: true},
	{ai: "3200", last: "3205", flags: "*?", attrs: "req=01,02 ex=320n", spec: "N6", title: "NET WEIGHT (lb)", zh: "净重（磅）", en: "Net weight, pounds", unit: "lb", decimal: true},
	{ai: "3300", last: "3305", flags: "*?", attrs: "req=00,01 ex=330n", spec: "N6", title: "GROSS WEIGHT (kg)", zh: "毛重（千克）", en: "Logistic gross weight, kilograms", unit: "kg", decimal: true},
	{ai: "3400", last: "3405", flags: "*?", attrs: "req=00,01 ex=340n", spec: "N6", title: "GROSS WEIGHT (lb)", zh: "毛重（磅）", en: "Logistic gross weight, pounds", unit: "lb", decimal: true},
	{ai: "37", flags: "?", attrs: "req=00+02,00+8026", spec: "N..8", title: "COUNT", zh: "所含贸易项目数量", en: "Count of trade items contained"},
	{ai: "3910", last: "3919", flags: "?", attrs: "req=8020 ex=391n", spec: "N3,iso4217 N..15", title: "AMOUNT", zh: "应付金额及ISO货币代码（付款单）", en: "Amount payable with ISO currency code (payment slip)", decimal: true},
	{ai: "3920", last: "3929", flags: "?", attrs: "req=01+30,01+31nn,01+32nn,01+35nn,01+36nn ex=392n,393n", spec: "N..15", title: "PRICE", zh: "应付金额（变量贸易项目）", en: "Amount payable, single monetary area (variable measure item)", decimal: true},
	{ai: "3930", last: "3939", flags: "?", attrs: "req=30,31nn,32nn,35nn,36nn ex=393n", spec: "N3,iso4217 N..15", title: "PRICE", zh: "应付金额及ISO货币代码（变量贸易项目）", en: "Amount payable with ISO currency code (variable measure item)", decimal: true},
	{ai: "400", flags: "?", spec: "X..30", title: "ORDER NUMBER", zh: "客户订单号", en: "Customer's purchase order number"},
	{ai: "401", flags: "?", attrs: "dlpkey", spec: "X..30", title: "GINC", zh: "全球托运标识代码", en: "Global Identification Number for Consignment (GINC)"},
	{ai: "402", flags: "?", attrs: "dlpkey", spec: "N17,csum", title: "GSIN", zh: "全球装运标识代码", en: "Global Shipment Identification Number (GSIN)"},
	{ai: "403", flags: "?", attrs: "req=00", spec: "X..30", title: "ROUTE", zh: "路径代码", en: "Routing code"},
	{ai: "410", flags: "*?", spec: "N13,csum", title: "SHIP TO LOC", zh: "交货地全球位置码", en: "Ship to / deliver to GLN"},
	{ai: "411", flags: "*?", spec: "N13,csum", title: "BILL TO", zh: "受票方全球位置码", en: "Bill to / invoice to GLN"},
	{ai: "412", flags: "*?", spec: "N13,csum", title: "PURCHASE FROM", zh: "供货方全球位置码", en: "Purchased from GLN"},
	{ai: "413", flags: "*?", spec: "N13,csum", title: "SHIP FOR LOC", zh: "最终收货方全球位置码", en: "Ship for / deliver for / forward to GLN"},
	{ai: "414", flags: "*?", attrs: "dlpkey=254|7040", spec: "N13,csum", title: "LOC No.", zh: "物理位置全球位置码", en: "GLN of a physical location"},
	{ai: "415", flags: "*?", attrs: "req=8020 dlpkey=8020", spec: "N13,csum", title: "PAY TO", zh: "开票方全球位置码", en: "GLN of the invoicing party"},
	{ai: "416", flags: "*?", spec: "N13,csum", title: "PROD/SERV LOC", zh: "生产或服务地全球位置码", en: "GLN of the production or service location"},
	{ai: "417", flags: "*?", attrs: "dlpkey=7040", spec: "N13,csum", title: "PARTY", zh: "参与方全球位置码", en: "Party GLN"},
	{ai: "420", flags: "?", attrs: "ex=421", spec: "X..20", title: "SHIP TO POST", zh: "交货地邮政编码", en: "Ship to / deliver to postal code"},
	{ai: "421", flags: "?", attrs: "ex=4307", spec: "N3,iso3166 X..9", title: "SHIP TO POST", zh: "交货地邮政编码（含ISO国家代码）", en: "Ship to / deliver to postal code with ISO country code"},
	{ai: "422", flags: "?", attrs: "req=01,02,03,8006,8026 ex=426", spec: "N3,iso3166", title: "ORIGIN", zh: "原产国", en: "Country of origin"},
	{ai: "423", flags: "?", attrs: "req=01,02,03 ex=426", spec: "N..15,iso3166list", title: "COUNTRY - INITIAL PROCESS", zh: "初加工国家", en: "Country of initial processing"},
	{ai: "424", flags: "?", attrs: "req=01,02,03 ex=426", spec: "N3,iso3166", title: "COUNTRY - PROCESS", zh: "加工国家", en: "Country of processing"},
	{ai: "425", flags: "?", attrs: "req=01,02,03 ex=426", spec: "N..15,iso3166list", title: "COUNTRY - DISASSEMBLY", zh: "分割国家", en: "Country of disassembly"},
	{ai: "426", flags: "?", attrs: "req=01,02,03", spec: "N3,iso3166", title: "COUNTRY - FULL PROCESS", zh: "全程加工国家", en: "Country covering the full process chain"},
	{ai: "427", flags: "?", attrs: "req=01+422,02+422,03+422", spec: "X..3", title: "ORIGIN SUBDIVISION", zh: "原产地行政区划", en: "Country subdivision of origin"},
	{ai: "4307", flags: "?", attrs: "req=00", spec: "X2,iso3166alpha2", title: "SHIP TO COUNTRY", zh: "交货地国家代码", en: "Ship to / deliver to country code"},
	{ai: "4317", flags: "?", attrs: "req=00", spec: "X2,iso3166alpha2", title: "RTN TO COUNTRY", zh: "退货地国家代码", en: "Return to country code"},
	{ai: "7002", flags: "?", attrs: "req=01,02", spec: "X..30", title: "MEAT CUT", zh: "胴体及分割部位", en: "UNECE meat carcasses and cuts classification"},
	{ai: "7003", flags: "?", attrs: "req=01,02,03", spec: "N6,yymmdd N4,hhmm", title: "EXPIRY TIME", zh: "有效期至（日期和时间）", en: "Expiration date and time"},
	{ai: "7005", flags: "?", attrs: "req=01,02", spec: "X..12", title: "CATCH AREA", zh: "捕捞区域", en: "Catch area"},
	{ai: "7006", flags: "?", attrs: "req=01,02", spec: "N6,yymmdd", title: "FIRST FREEZE DATE", zh: "首次冷冻日期", en: "First freeze date"},
	{ai: "7007", flags: "?", attrs: "req=01,02", spec: "N6,yymmdd [N6,yymmdd]", title: "HARVEST DATE", zh: "收获日期", en: "Harvest date"},
	{ai: "7008", flags: "?", attrs: "req=01,02", spec: "X..3", title: "AQUATIC SPECIES", zh: "水产品种", en: "Species for fishery purposes"},
	{ai: "7009", flags: "?", attrs: "req=01,02", spec: "X..10", title: "FISHING GEAR TYPE", zh: "渔具类型", en: "Fishing gear type"},
	{ai: "7010", flags: "?", attrs: "req=01,02,03", spec: "X..2", title: "PROD METHOD", zh: "生产方式", en: "Production method"},
	{ai: "7023", flags: "?", spec: "X..30", title: "GIAI - ASSEMBLY", zh: "组装件全球单个资产标识", en: "Global Individual Asset Identifier of an assembly"},
	{ai: "7030", last: "7039", flags: "?", attrs: "req=01,02", spec: "N3,iso3166999 X..27", title: "PROCESSOR # %d", zh: "加工者批准号（含ISO国家代码）", en: "Approval number of processor with ISO country code"},
	{ai: "8003", flags: "?", attrs: "dlpkey", spec: "N1,zero N13,csum [X..16]", title: "GRAI", zh: "全球可回收资产标识", en: "Global Returnable Asset Identifier (GRAI)"},
	{ai: "8004", flags: "?", attrs: "dlpkey=7040", spec: "X..30", title: "GIAI", zh: "全球单个资产标识", en: "Global Individual Asset Identifier (GIAI)"},
	{ai: "8005", flags: "?", attrs: "req=01,02", spec: "N6", title: "PRICE PER UNIT", zh: "单位价格", en: "Price per unit of measure"},
	{ai: "8006", flags: "?", attrs: "ex=01,03,37 dlpkey=22,10,21", spec: "N14,csum N4,pieceoftotal", title: "ITIP", zh: "贸易项目组件标识", en: "Identification of an individual trade item piece (ITIP)"},
	{ai: "8008", flags: "?", attrs: "req=01,02,03", spec: "N8,yymmddhh [N..4,mmoptss]", title: "PROD TIME", zh: "生产日期和时间", en: "Date and time of production"},
	{ai: "8020", flags: "", attrs: "req=415", spec: "X..25", title: "REF No.", zh: "付款单参考号", en: "Payment slip reference number"},
	{ai: "8026", flags: "?", attrs: "req=37 ex=02,03,8006", spec: "N14,csum N4,pieceoftotal", title: "ITIP CONTENT", zh: "所含贸易项目组件标识", en: "ITIP of contained trade item pieces"},
	{ai: "8200", flags: "", attrs: "req=01", spec: "X..70", title: "PRODUCT URL", zh: "扩展包装网址", en: "Extended packaging URL"},
	{ai: "90", flags: "?", spec: "X..30", title: "INTERNAL", zh: "贸易伙伴约定信息", en: "Information mutually agreed between trading partners"},
	{ai: "91", last: "99", flags: "?", spec: "X..90", title: "INTERNAL", zh: "企业内部信息", en: "Company internal information"},
}

// predefinedLength gives, by the first two digits of an AI, the value length of the AIs that
// need no FNC1 after them (the GS1 General Specifications table of element strings with a
// predefined length).
var predefinedLength = map[string]int{
	"00": 18, "01": 14, "02": 14, "03": 14, "04": 16,
	"11": 6, "12": 6, "13": 6, "14": 6, "15": 6, "16": 6, "17": 6, "18": 6, "19": 6,
	"20": 2, "31": 6, "32": 6, "33": 6, "34": 6, "35": 6, "36": 6, "41": 13,
}

var (
	table        = map[string]*Definition{}
	tableOrder   []string
	prefixLength = map[string]int{}      // AI length by first two digits, where all known AIs agree
	qualifierOf  = map[string][]string{} // the primary keys an AI is a key qualifier of
)

// init builds the table. A malformed row is a programmer error and panics at start-up.
func init() {
	for _, r := range rows {
		first, last := r.ai, r.last
		if last == "" {
			last = first
		}
		lo, _ := strconv.Atoi(first)
		hi, _ := strconv.Atoi(last)
		for n := lo; n <= hi; n++ {
			ai := fmt.Sprintf("%0*d", len(first), n)
			d := newDefinition(ai, r)
			if r.decimal {
				d.Decimals = n % 10
			}
			if strings.Contains(r.title, "%d") {
				d.DataTitle = fmt.Sprintf(r.title, n%10)
			}
			if _, dup := table[ai]; dup {
				panic("gs1: AI " + ai + " defined twice")
			}
			table[ai] = d
		}
	}
	tableOrder = sortedAIs(table)
	for _, d := range table {
		// Drop the qualifier sequences that name an AI the table lacks.
		d.Qualifiers = slices.DeleteFunc(d.Qualifiers, func(seq []string) bool {
			return slices.ContainsFunc(seq, func(q string) bool { return table[q] == nil })
		})
		for _, seq := range d.Qualifiers {
			for _, q := range seq {
				qualifierOf[q] = append(qualifierOf[q], d.AI)
			}
		}
	}
	for _, keys := range qualifierOf {
		slices.Sort(keys)
	}
	lengths := map[string]map[int]bool{}
	for _, ai := range tableOrder {
		for _, other := range tableOrder {
			if other != ai && strings.HasPrefix(other, ai) {
				panic("gs1: AI " + ai + " is a prefix of " + other)
			}
		}
		if lengths[ai[:2]] == nil {
			lengths[ai[:2]] = map[int]bool{}
		}
		lengths[ai[:2]][len(ai)] = true
	}
	for p, ls := range lengths {
		if len(ls) == 1 {
			for l := range ls {
				prefixLength[p] = l
			}
		}
	}
}

func newDefinition(ai string, r row) *Definition {
	d := &Definition{AI: ai, DataTitle: r.title, Title: Title{ZH: r.zh, EN: r.en}, Unit: r.unit, Decimals: -1, Numeric: true}
	var format []string
	for _, comp := range strings.Fields(r.spec) {
		var p part
		if strings.HasPrefix(comp, "[") && strings.HasSuffix(comp, "]") {
			p.optional = true
			comp = comp[1 : len(comp)-1]
		}
		typ, lints, _ := strings.Cut(comp, ",")
		if lints != "" {
			l, ok := lintNames[lints]
			if !ok {
				panic("gs1: AI " + ai + ": unknown linter " + lints)
			}
			p.lint = l
		}
		p.set = charset(typ[0])
		if p.set != 'N' && p.set != 'X' {
			panic("gs1: AI " + ai + ": unknown character set in " + typ)
		}
		if rest, ok := strings.CutPrefix(typ[1:], ".."); ok {
			p.min, p.max = 1, atoi(ai, rest)
		} else {
			p.min = atoi(ai, typ[1:])
			p.max = p.min
		}
		d.parts = append(d.parts, p)
		if p.optional {
			format = append(format, "["+typ+"]")
		} else {
			format = append(format, typ)
			d.MinLength += p.min
		}
		d.MaxLength += p.max
		d.Numeric = d.Numeric && p.set == 'N'
		d.CheckDigit = d.CheckDigit || p.lint == lintCsum
		d.currency = d.currency || p.lint == lintISO4217
	}
	d.Format = strings.Join(format, " ")
	switch d.parts[0].lint {
	case lintYYMMD0, lintYYMMDD, lintYYMMDDHH:
		d.Date = true
	}
	if want, ok := predefinedLength[ai[:2]]; ok {
		if d.MinLength != want || d.MaxLength != want {
			panic(fmt.Sprintf("gs1: AI %s has predefined length %d but format %s", ai, want, d.Format))
		}
	} else {
		d.FNC1 = true
	}
	if strings.Contains(r.flags, "*") == d.FNC1 {
		panic("gs1: AI " + ai + ": the \"*\" flag disagrees with the predefined-length table")
	}
	d.DataAttribute = strings.Contains(r.flags, "?")
	for _, attr := range strings.Fields(r.attrs) {
		name, val, _ := strings.Cut(attr, "=")
		switch name {
		case "req":
			if d.Requires != nil {
				panic("gs1: AI " + ai + ": more than one req attribute")
			}
			d.Requires = strings.Split(val, ",")
		case "ex":
			d.Excludes = strings.Split(val, ",")
		case "dlpkey":
			d.PrimaryKey = true
			if val == "" {
				break
			}
			for _, seq := range strings.Split(val, "|") {
				d.Qualifiers = append(d.Qualifiers, strings.Split(seq, ","))
			}
		default:
			panic("gs1: AI " + ai + ": unknown attribute " + attr)
		}
	}
	return d
}

func atoi(ai, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		panic("gs1: AI " + ai + ": bad length " + s)
	}
	return n
}
