package engine

// Where a granted action applies: a role's grant names an app ("" for the platform itself, "*"
// for every app and the platform) and the actions it gives there.
const (
	GrantOnPlatform = "platform" // granted with app "" (or "*")
	GrantOnApp      = "app"      // granted on one app (or "*")
)

// GrantAction is an action a role may grant: one the server checks (Auth.Require, Auth.Can),
// its label for the role editor, and where it applies.
type GrantAction struct {
	ID    string `json:"id"`
	Label Text   `json:"label"`
	// On lists where the action applies: GrantOnPlatform, GrantOnApp or both ("*").
	On []string `json:"on"`
}

// grantActions are the actions roles grant, in the order the role editor shows them. Form-level
// rights (create, read, update … of one form) are not here: a form's permissions give them to
// roles, edited in the permission matrix.
var grantActions = []GrantAction{
	{ID: PermSystemAdmin, Label: Text{ZH: "系统管理", EN: "Administer the system"}, On: []string{GrantOnPlatform}},
	{ID: PermAppRead, Label: Text{ZH: "使用应用", EN: "Use the app"}, On: []string{GrantOnApp}},
	{ID: PermAppDesign, Label: Text{ZH: "设计应用", EN: "Design the app"}, On: []string{GrantOnApp}},
	{ID: "*", Label: Text{ZH: "全部动作", EN: "Every action"}, On: []string{GrantOnPlatform, GrantOnApp}},
}

// GrantActions lists the actions a role's grant may give, each with its label and where it
// applies; the caller may keep the slice.
func GrantActions() []GrantAction {
	out := make([]GrantAction, len(grantActions))
	for i, a := range grantActions {
		a.On = append([]string(nil), a.On...)
		out[i] = a
	}
	return out
}
