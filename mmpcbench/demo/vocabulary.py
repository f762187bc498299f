"""The demo catalogue's attribute vocabulary: product types per category, colours, patterns,
materials, brands, and the shape each product type is drawn as."""

PRODUCT_TYPES: dict[str, list[str]] = {
    "All_Beauty": ["lipstick", "hair brush", "perfume bottle", "compact mirror", "face cream", "nail file"],
    "Arts_Crafts_and_Sewing": ["sketchbook", "paint set", "yarn ball", "sewing kit", "brush set", "stamp"],
    "Electronics": ["headphones", "charger", "speaker", "mouse", "keyboard", "webcam"],
    "Home_and_Kitchen": ["mug", "cutting board", "pillow", "vase", "lamp", "towel"],
    "Industrial_and_Scientific": ["beaker", "tape roll", "safety glasses", "gauge", "clamp", "label maker"],
    "Musical_Instruments": ["guitar pick", "drum pad", "capo", "tuner", "strap", "harmonica"],
    "Office_Products": ["notebook", "stapler", "desk organizer", "pen set", "binder", "calculator"],
    "Toys_and_Games": ["puzzle", "building blocks", "plush toy", "board game", "kite", "yo-yo"],
    "Video_Games": ["controller", "headset", "game case", "charging dock", "memory card", "steering wheel"],
}
SHAPES = ["circle", "square", "triangle", "diamond", "hexagon", "star"]  # product type i is drawn as SHAPES[i]
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (204, 40, 40),
    "blue": (40, 80, 200),
    "green": (40, 160, 70),
    "yellow": (235, 200, 40),
    "purple": (130, 50, 170),
    "orange": (240, 130, 30),
    "black": (30, 30, 30),
    "pink": (240, 120, 170),
}
PATTERNS = ["solid", "striped", "dotted", "checked"]
MATERIALS: dict[str, tuple[int, int, int]] = {
    "plastic": (245, 245, 245),
    "metal": (170, 175, 185),
    "wooden": (190, 140, 90),
    "fabric": (225, 210, 180),
    "glass": (200, 230, 240),
}
BRANDS = ["Lumora", "Kestrel", "Novabright", "Tidewell", "Orchard & Co", "Pinecraft", "Zentro", "Amberly"]
IMAGE_SIZE = 128
