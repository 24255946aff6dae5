package gs1_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"tracecraft/gs1"
)

func ExampleParse() {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for _, scan := range []string{
		"https://t.brand.cn/01/09501101530003/10/L1/21/000123?17=260520",
		"]C10109501101530003" + "10L1" + gs1.GS + "17260520",
		"9501101530003",
		"LOT-2025-001",
	} {
		e, err := gs1.Parse(scan, now)
		switch {
		case errors.Is(err, gs1.ErrNotGS1):
			fmt.Println("keep as text:", scan)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println(e)
		}
	}
	// Output:
	// (01)09501101530003(10)L1(21)000123(17)260520
	// (01)09501101530003(10)L1(17)260520
	// (01)09501101530003
	// keep as text: LOT-2025-001
}

func ExampleParseElementString() {
	e, err := gs1.ParseElementString("(01)09501101530003(17)250100(10)ABC")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, el := range e {
		fmt.Printf("%s %s: %s\n", el.AI, el.Title.In("zh-CN"), el.Value)
	}
	expiry, _ := e.DateAt("17", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	fmt.Println("expires", expiry.Format(time.DateOnly))

	_, err = gs1.ParseElementString("0109501101530003" + "10ABC" + "21123456789012345678")
	fmt.Println(err)
	// Output:
	// 01 全球贸易项目代码: 09501101530003
	// 17 有效期至: 250100
	// 10 批号: ABC
	// expires 2025-01-31
	// gs1: AI (10) at position 38: value must be at most 20 characters, got 23; is a GS separator missing?
}

func ExampleBuildElementString() {
	label := gs1.Elements{
		{AI: "01", Value: "09501101530003"},
		{AI: "10", Value: "L1"},
		{AI: "17", Value: "260520"},
		{AI: "3103", Value: "001250"},
	}
	human, _ := gs1.BuildElementString(label, gs1.Bracketed)
	raw, _ := gs1.BuildElementString(label, gs1.Raw)
	fmt.Println(human)
	fmt.Println(strings.ReplaceAll(raw, gs1.GS, "<GS>"))
	// Output:
	// (01)09501101530003(10)L1(17)260520(3103)001250
	// 010950110153000310L1<GS>172605203103001250
}

func ExampleParseDigitalLink() {
	dl, err := gs1.ParseDigitalLink("https://brand.example/products/01/9501101530003/10/ABC%2F1/21/12345?17=251231&3103=000500&linkType=gs1:pip")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(dl.Stem)
	fmt.Println(dl.Key.AI, dl.Key.Value)
	fmt.Println(dl.Qualifiers)
	fmt.Println(dl.Attributes)
	fmt.Println(dl.Params.Get("linkType"))
	weight, unit, _ := dl.Elements().Decimal("3103")
	fmt.Println(weight, unit)
	// Output:
	// https://brand.example/products
	// 01 09501101530003
	// (10)ABC/1(21)12345
	// (17)251231(3103)000500
	// gs1:pip
	// 0.5 kg
}

func ExampleBuildDigitalLink() {
	uri, err := gs1.BuildDigitalLink("https://t.brand.cn", gs1.Elements{
		{AI: "17", Value: "260520"},
		{AI: "21", Value: "000123"},
		{AI: "01", Value: "09501101530003"},
		{AI: "10", Value: "L/1"},
		{AI: "11", Value: "251120"},
	})
	fmt.Println(uri, err)
	// Output:
	// https://t.brand.cn/01/09501101530003/10/L%2F1/21/000123?11=251120&17=260520 <nil>
}

func ExampleCheckDigit() {
	d, _ := gs1.CheckDigit("950110153000")
	fmt.Printf("%c\n", d)
	fmt.Println(gs1.ValidGTIN("9501101530003"), gs1.ValidGTIN("9501101530004"))
	gtin, _ := gs1.NormalizeGTIN("9501101530003")
	fmt.Println(gtin)
	// Output:
	// 3
	// true false
	// 09501101530003
}

func ExampleDateOf() {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for _, v := range []string{"491231", "770101", "250200", "2512311230"} {
		t, _ := gs1.DateOf(v, now)
		fmt.Println(v, t.Format("2006-01-02 15:04"))
	}
	// Output:
	// 491231 2049-12-31 00:00
	// 770101 1977-01-01 00:00
	// 250200 2025-02-28 00:00
	// 2512311230 2025-12-31 12:30
}

func ExampleElements_Decimal() {
	e := gs1.Elements{{AI: "3102", Value: "012500"}, {AI: "3922", Value: "2599"}}
	kg, unit, _ := e.Decimal("3102")
	price, _, _ := e.Decimal("3922")
	fmt.Println(kg, unit, price)
	// Output:
	// 125 kg 25.99
}

func ExampleDigitalLinkForItem() {
	expiry := time.Date(2026, 5, 20, 0, 0, 0, 0, time.UTC)
	uri, _ := gs1.DigitalLinkForItem("t.brand.cn", "9501101530003", "L20251120", "7K2M/9Q", expiry)
	fmt.Println(uri)
	item, _ := gs1.ParseItemLink(uri)
	fmt.Println(item.GTIN, item.Lot, item.Serial, item.Expiry.Format("2006-01-02"))
	// Output:
	// https://t.brand.cn/01/09501101530003/10/L20251120/21/7K2M%2F9Q?17=260520
	// 09501101530003 L20251120 7K2M/9Q 2026-05-20
}

func ExampleDigitalLink_URI() {
	dl, _ := gs1.ParseDigitalLink("https://brand.example/gtin/9501101530003/lot/A%2fB?exp=260500#top")
	uri, _ := dl.URI()
	fmt.Println(uri)
	// Output:
	// https://brand.example/01/09501101530003/10/A%2FB?17=260500
}

func ExampleCheckPairs() {
	for _, e := range []gs1.Elements{
		{{AI: "00", Value: "006141411234567890"}, {AI: "02", Value: "09501101530003"}, {AI: "37", Value: "24"}},
		{{AI: "01", Value: "09501101530003"}, {AI: "37", Value: "24"}},
		{{AI: "02", Value: "09501101530003"}},
		{{AI: "01", Value: "09501101530003"}, {AI: "3932", Value: "1562599"}},
	} {
		fmt.Println(e, gs1.CheckPairs(e))
	}
	// Output:
	// (00)006141411234567890(02)09501101530003(37)24 <nil>
	// (01)09501101530003(37)24 gs1: AI (37): cannot be combined with (01)
	// (02)09501101530003 gs1: AI (02): needs (37) with it
	// (01)09501101530003(3932)1562599 gs1: AI (3932): needs one of (30), (31nn), (32nn), (35nn), (36nn) with it
}
