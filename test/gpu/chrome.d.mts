/** The Chrome executable for the GPU tests and benchmarks: CHROME_PATH, else the system Chromium / Chrome. */
export function chromePath(): string;
/** Chrome's flags: WebGPU on, SwiftShader unless WEBODE_ADAPTER=hardware, no background networking. */
export function chromeArgs(): string[];
