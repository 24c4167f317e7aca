import { createRouter, createWebHistory, type RouteLocationNormalized } from "vue-router";
import { onSessionEnded, token } from "./api/session";
import { useAuth } from "./composables/useAuth";

declare module "vue-router" {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean;
    adminOnly?: boolean;
    title?: string;
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    {
      path: "/login",
      name: "login",
      component: () => import("./views/LoginView.vue"),
      meta: { public: true, title: "Sign in" },
    },
    { path: "/", redirect: "/fleet" },
    {
      path: "/fleet",
      name: "fleet",
      component: () => import("./views/FleetView.vue"),
      meta: { title: "Fleet" },
    },
    {
      path: "/devices/:id",
      name: "device",
      component: () => import("./views/DeviceView.vue"),
      meta: { title: "Device" },
    },
    {
      path: "/devices/:id/apps",
      name: "device-apps",
      component: () => import("./views/DeviceAppsView.vue"),
      meta: { title: "Device apps" },
    },
    {
      path: "/live",
      name: "live",
      component: () => import("./views/LiveView.vue"),
      meta: { title: "Live" },
    },
    {
      path: "/history",
      name: "history",
      component: () => import("./views/HistoryView.vue"),
      meta: { title: "History" },
    },
    {
      path: "/sensors",
      name: "sensors",
      component: () => import("./views/SensorsView.vue"),
      meta: { title: "Sensors" },
    },
    {
      path: "/experiments",
      name: "experiments",
      component: () => import("./views/ExperimentsView.vue"),
      meta: { title: "Experiments" },
    },
    {
      path: "/events",
      name: "events",
      component: () => import("./views/EventsView.vue"),
      meta: { title: "Events" },
    },
    {
      path: "/plugins",
      name: "plugins",
      component: () => import("./views/PluginsView.vue"),
      meta: { title: "Plugins" },
    },
    {
      path: "/rules",
      name: "rules",
      component: () => import("./views/RulesView.vue"),
      meta: { title: "Rules" },
    },
    {
      path: "/webhooks",
      name: "webhooks",
      component: () => import("./views/WebhooksView.vue"),
      meta: { title: "Webhooks" },
    },
    {
      path: "/dashboards",
      name: "dashboards",
      component: () => import("./views/DashboardsView.vue"),
      meta: { title: "Dashboards" },
    },
    {
      path: "/dashboards/:id",
      name: "dashboard",
      component: () => import("./views/DashboardView.vue"),
      meta: { title: "Dashboard" },
    },
    {
      path: "/tokens",
      name: "tokens",
      component: () => import("./views/TokensView.vue"),
      meta: { title: "API tokens" },
    },
    {
      path: "/users",
      name: "users",
      component: () => import("./views/UsersView.vue"),
      meta: { title: "Users", adminOnly: true },
    },
    {
      path: "/:pathMatch(.*)*",
      name: "not-found",
      component: () => import("./views/NotFoundView.vue"),
      meta: { title: "Not found" },
    },
  ],
});

function loginFor(to: RouteLocationNormalized) {
  return { name: "login", query: to.fullPath && to.fullPath !== "/" ? { next: to.fullPath } : {} };
}

router.beforeEach(async (to) => {
  const auth = useAuth();
  if (to.meta.public) return true;
  if (token.value === null) return loginFor(to);
  if (auth.me.value === null) {
    try {
      await auth.loadMe();
    } catch {
      // A refused token already ended the session; anything else: try the login page.
      return token.value === null ? loginFor(to) : true;
    }
  }
  if (to.meta.adminOnly && !auth.isAdmin.value) return { name: "fleet" };
  return true;
});

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · revlink` : "revlink";
});

onSessionEnded(() => {
  const current = router.currentRoute.value;
  if (current.meta.public) return;
  void router.replace(loginFor(current));
});
