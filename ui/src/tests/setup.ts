import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach } from "vitest";
import { resetStores } from "../lib/stores/reset";

// Generous deadlines: CI shares two cores with other builds. Waits end as soon as the
// condition holds, so this costs nothing when things are fast.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  // Unmount first: unmounting unsubscribes events through the (still mocked) IPC.
  cleanup();
  clearMocks();
  resetStores();
});
