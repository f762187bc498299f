"""The category names a config may list: Amazon Reviews 2023's, or the demo's own vocabulary.

Amazon Reviews 2023 has 34 categories (``Unknown`` included); the raw files are
``raw/review_categories/{name}.jsonl.gz`` and ``raw/meta_categories/meta_{name}.jsonl.gz``, the names
spelt exactly as here (the dataset's own list of configurations, ``raw_review_{name}``). The paper uses
nine of them (``config.yaml``). The demo generates its catalogue, so it knows only the categories of its
vocabulary (:data:`mmpcbench.demo.vocabulary.PRODUCT_TYPES`).
"""

from __future__ import annotations

AMAZON_2023 = (
    "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive", "Baby_Products",
    "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl", "Cell_Phones_and_Accessories",
    "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics", "Gift_Cards", "Grocery_and_Gourmet_Food",
    "Handmade_Products", "Health_and_Household", "Health_and_Personal_Care", "Home_and_Kitchen",
    "Industrial_and_Scientific", "Kindle_Store", "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments",
    "Office_Products", "Patio_Lawn_and_Garden", "Pet_Supplies", "Software", "Sports_and_Outdoors",
    "Subscription_Boxes", "Tools_and_Home_Improvement", "Toys_and_Games", "Unknown", "Video_Games",
)


def known_categories(config: dict) -> tuple[str, ...]:
    """The names ``config["categories"]`` may hold: the demo's (a config with a ``demo`` section) or
    Amazon Reviews 2023's."""
    if "demo" in config:
        from mmpcbench.demo.vocabulary import PRODUCT_TYPES

        return tuple(sorted(PRODUCT_TYPES))
    return AMAZON_2023
