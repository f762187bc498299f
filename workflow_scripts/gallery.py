"""Rule gallery: one category's gallery page and its thumbnails."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.report.gallery import GallerySettings, MethodFiles, write_gallery
from mmpcbench.stage import start_stage

start_stage(snakemake)
inputs, params = snakemake.input, snakemake.params
prompts = dict(zip(params.prompted, inputs.prompts))
methods = [
    MethodFiles(name=name, kind=params.kinds[name], titles=titles, manifest=manifest, i2t_scores=i2t, t2i_scores=t2i,
                prompts=prompts.get(name))
    for name, titles, manifest, i2t, t2i in zip(params.methods, inputs.titles, inputs.manifests, inputs.i2t_scores,
                                                 inputs.t2i_scores)
]
write_gallery(snakemake.wildcards.category, inputs.cq_items, params.data_root, params.results_root, methods,
              GallerySettings.of(params.settings), snakemake.output.thumbnails, snakemake.output.html)
