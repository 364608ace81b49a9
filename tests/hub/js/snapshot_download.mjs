// @huggingface/hub downloads a repo into a cache: node snapshot_download.mjs <hubUrl> <cacheDir> <repo>
import { snapshotDownload } from "@huggingface/hub";

const [hubUrl, cacheDir, repo] = process.argv.slice(2);
const dir = await snapshotDownload({ repo, cacheDir, hubUrl });
console.log(JSON.stringify({ dir }));
