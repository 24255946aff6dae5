import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { isAdmin, useSession } from './stores/session'

// Every page is its own chunk (lazy import), so the first load carries only the shell. Designers
// added later register their routes here the same way (children of the app layout).
const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
  {
    path: '/',
    component: () => import('./layout/AppShell.vue'),
    children: [
      { path: '', name: 'workbench', component: () => import('./views/WorkbenchView.vue') },
      { path: 'inbox/:box?', name: 'inbox', component: () => import('./views/InboxView.vue') },
      { path: 'tasks/:task', name: 'task', component: () => import('./views/TaskView.vue') },
      {
        path: 'apps/:app',
        component: () => import('./layout/AppLayout.vue'),
        children: [
          { path: '', name: 'app', component: () => import('./views/AppHome.vue') },
          { path: 'forms/:form', name: 'records', component: () => import('./views/RecordListView.vue') },
          { path: 'forms/:form/new', name: 'record-new', component: () => import('./views/RecordFormView.vue') },
          { path: 'forms/:form/records/:id/edit', name: 'record-edit', component: () => import('./views/RecordFormView.vue') },
          // 打印模板: the app's print templates; 一物一码: a lot record's item codes.
          { path: 'labels', name: 'labels', component: () => import('./labels/LabelList.vue') },
          { path: 'forms/:form/records/:id/codes', name: 'record-codes', component: () => import('./labels/CodesView.vue') },
          { path: 'rules', name: 'rules', component: () => import('./rules/RulesList.vue') },
        ],
      },
      // The form designer takes the whole width (no app navigation beside it); form "new" is a new form.
      { path: 'apps/:app/forms/:form/design', name: 'form-design', component: () => import('./designer/FormDesigner.vue') },
      // The flow designer likewise; flow "new" is a new flow on the form ?form=KEY.
      { path: 'apps/:app/flows/:flow/design', name: 'flow-design', component: () => import('./flow-designer/FlowDesigner.vue') },
      // The label designer likewise; template "new" is a new template (on the form ?form=KEY).
      { path: 'apps/:app/labels/:template/design', name: 'label-design', component: () => import('./labels/LabelDesigner.vue') },
      // The rule editor likewise; rule "new" is a new rule (of the form ?form=KEY, else the first published one).
      { path: 'apps/:app/rules/:rule/design', name: 'rule-design', component: () => import('./rules/RuleEditor.vue') },
      // 管理: administrators only (meta.admin, checked below; the server checks every call again).
      {
        path: 'admin',
        component: () => import('./admin/AdminLayout.vue'),
        meta: { admin: true },
        children: [
          { path: '', redirect: '/admin/users' },
          { path: 'users', name: 'admin-users', component: () => import('./admin/UsersView.vue') },
          { path: 'departments', name: 'admin-departments', component: () => import('./admin/DepartmentsView.vue') },
          { path: 'roles', name: 'admin-roles', component: () => import('./admin/RolesView.vue') },
          { path: 'matrix/:app?', name: 'admin-matrix', component: () => import('./admin/MatrixView.vue') },
          { path: 'printers', name: 'admin-printers', component: () => import('./admin/PrintersView.vue') },
          { path: 'audit', name: 'admin-audit', component: () => import('./admin/AuditView.vue') },
          { path: 'deliveries', name: 'admin-deliveries', component: () => import('./admin/DeliveriesView.vue') },
        ],
      },
      { path: ':rest(.*)*', name: 'not-found', component: () => import('./views/NotFound.vue') },
    ],
  },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  const session = useSession()
  const me = await session.load()
  if (!me) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  if (to.matched.some((r) => r.meta.admin) && !isAdmin(me)) return { name: 'not-found', params: { rest: to.path.slice(1).split('/') } }
  return true
})
