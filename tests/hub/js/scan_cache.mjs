// Prints what @huggingface/hub's scanCacheDir sees in a cache: node scan_cache.mjs <cacheDir>
import { scanCacheDir } from "@huggingface/hub";

const info = await scanCacheDir(process.argv[2]);
const out = {
	size: info.size,
	warnings: info.warnings.map((w) => String(w)),
	repos: [...info.repos].map((r) => ({
		id: r.id.name,
		type: r.id.type,
		size: r.size,
		filesCount: r.filesCount,
		revisions: [...r.revisions].map((v) => ({
			commit: v.commitOid,
			refs: [...v.refs],
			size: v.size,
			files: [...v.files].map((f) => f.path.split("/snapshots/")[1].split("/").slice(1).join("/")).sort(),
		})),
	})),
};
console.log(JSON.stringify(out));
