# The embedded demo: only present when the config has a `demo:` section. It writes a synthetic
# catalogue in the exact Amazon Reviews 2023 raw format where the demo's download.base_url points.
if DEMO:
    # the folder the demo's download.base_url points to: the catalogue is written there
    DEMO_MIRROR = str(local_path(as_url(config["download"]["base_url"])))

    rule demo_catalogue:
        output:
            reviews=[
                str(local_path(source_url(category, "reviews")))
                for category in CATEGORIES
            ],
            meta=[str(local_path(source_url(category, "meta"))) for category in CATEGORIES],
            images=directory(f"{DEMO_MIRROR}/images"),
        params:
            categories=CATEGORIES,
            demo=config["demo"],
            mirror=root_from("images", "images"),
        log:
            P.log("demo_catalogue"),
        conda:
            "../envs/data.yaml"
        script:
            "../workflow_scripts/demo_catalogue.py"
