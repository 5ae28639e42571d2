import { withoutKernelWork } from "./null.ts"

/** `host`: the container shares the host's namespace (the controller gives it no sandbox of its own) */
export const hostDriver = withoutKernelWork("host")
