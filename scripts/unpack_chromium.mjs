// Unpack the headless Chromium that the npm package @sparticuz/chromium carries inside itself (brotli-compressed:
// `npm ci` downloads nothing else) into the folder named by TMPDIR, which the Makefile sets to .chromium/.
// Prints the path of the executable. Used by `make setup`; the browser test and `make pdf` launch it.
import chromium from "@sparticuz/chromium";

console.log(await chromium.executablePath());
