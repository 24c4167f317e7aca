import { computed, ref, watch } from "vue";
import { api, call } from "../api/client";
import { loginNotice, setToken, token } from "../api/session";
import type { Me } from "../api/types";

const me = ref<Me | null>(null);

watch(token, (value) => {
  if (value === null) me.value = null;
});

async function loadMe(): Promise<Me> {
  const value = await call(api.GET("/api/v1/auth/me"));
  me.value = value;
  return value;
}

async function login(email: string, password: string): Promise<void> {
  setToken(null);
  const answer = await call(api.POST("/api/v1/auth/login", { body: { email, password } }));
  setToken(answer.access_token);
  loginNotice.value = null;
  await loadMe();
}

async function logout(): Promise<void> {
  try {
    await call(api.POST("/api/v1/auth/logout"));
  } catch {
    // Signed out locally either way.
  }
  setToken(null);
}

const role = computed(() => me.value?.role ?? null);
const isAdmin = computed(() => role.value === "admin");
/** Operators and admins may change things; viewers only look. */
const canWrite = computed(() => role.value === "admin" || role.value === "operator");
const signedIn = computed(() => token.value !== null);

const auth = { me, role, isAdmin, canWrite, signedIn, token, loginNotice, login, logout, loadMe };

/** The signed-in user and what they may do, shared by every component. */
export function useAuth(): typeof auth {
  return auth;
}
