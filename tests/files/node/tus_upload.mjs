// Upload a file with the real tus-js-client under Node, optionally cutting it half way and
// resuming from the server's offset with a new Upload (as a reloaded page would).
// usage: node tus_upload.mjs ENDPOINT API_KEY PATH CHUNK_SIZE [cut]
import fs from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, apiKey, path, chunk, cut] = process.argv.slice(2);
const size = fs.statSync(path).size;

function run(uploadUrl, stopAt) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(fs.createReadStream(path), {
      endpoint,
      uploadUrl,
      uploadSize: size,
      chunkSize: Number(chunk),
      headers: { "X-API-Key": apiKey },
      metadata: { filename: "from-node.bin", filetype: "application/octet-stream" },
      retryDelays: [],
      onProgress(sent) {
        if (stopAt && sent >= stopAt) {
          upload.abort().then(() => resolve({ url: upload.url, aborted: true, sent }));
        }
      },
      onSuccess() {
        resolve({ url: upload.url, aborted: false });
      },
      onError: reject,
    });
    upload.start();
  });
}

try {
  let result = await run(null, cut ? Math.floor(size / 2) : 0);
  const first = result;
  if (result.aborted) result = await run(result.url, 0);
  console.log(JSON.stringify({ url: result.url, resumedFrom: first.aborted ? first.url : null }));
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
