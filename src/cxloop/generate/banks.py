"""Name, place and handle banks for the simulated persons (common names, no real people)."""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "William",
    "Mia", "Benjamin", "Charlotte", "Lucas", "Amelia", "Henry", "Harper", "Alexander", "Evelyn",
    "Daniel", "Abigail", "Matthew", "Emily", "Jackson", "Ella", "Sebastian", "Avery", "David",
    "Sofia", "Joseph", "Camila", "Samuel", "Aria", "Carter", "Scarlett", "Owen", "Victoria",
    "Wyatt", "Madison", "John", "Luna", "Jack", "Grace", "Luke", "Chloe", "Jayden", "Penelope",
    "Dylan", "Layla", "Grayson", "Riley", "Levi", "Zoey", "Isaac", "Nora", "Gabriel", "Lily",
    "Julian", "Eleanor", "Mateo", "Hannah", "Anthony", "Lillian", "Jaxon", "Addison", "Lincoln",
    "Aubrey", "Joshua", "Ellie", "Christopher", "Stella", "Andrew", "Natalie", "Theodore", "Zoe",
    "Caleb", "Leah", "Ryan", "Hazel", "Asher", "Violet", "Nathan", "Aurora", "Thomas", "Savannah",
    "Leo", "Audrey", "Isaiah", "Brooklyn", "Charles", "Bella", "Josiah", "Claire", "Hudson",
    "Skylar", "Priya", "Wei", "Aisha", "Mohammed", "Yuki", "Carlos", "Fatima", "Diego", "Mei",
    "Arjun", "Lucia", "Kwame", "Ingrid", "Tariq", "Rosa", "Hiroshi", "Anika",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Okafor", "Lindqvist", "Tanaka", "Kowalski", "O'Brien", "Singh", "Chen", "Haddad", "Novak",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main",
    "Walnut", "Sunset", "Highland", "Jefferson", "Lincoln", "River", "Spring", "Church",
    "Meadow", "Willow", "Ridge", "Forest", "Chestnut", "Mill", "Harbor", "Franklin", "Union",
    "Orchard", "Birch", "Valley",
)  # fmt: skip

STREET_KINDS: tuple[str, ...] = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Way")
STREET_KINDS_SHORT: tuple[str, ...] = ("St", "Ave", "Rd", "Ln", "Dr", "Ct", "Way")

# (city, postcode prefix, area codes); US ZIP prefixes and North American area codes are real
# numbering-plan values of those cities, the rest of every number is drawn at random.
US_CITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("San Francisco", "941", ("415", "628")),
    ("Seattle", "981", ("206",)),
    ("Austin", "787", ("512", "737")),
    ("Chicago", "606", ("312", "773")),
    ("Boston", "021", ("617", "857")),
    ("Denver", "802", ("303", "720")),
    ("Atlanta", "303", ("404", "470")),
    ("Portland", "972", ("503", "971")),
    ("Minneapolis", "554", ("612",)),
    ("Phoenix", "850", ("602", "480")),
    ("Columbus", "432", ("614",)),
    ("Nashville", "372", ("615",)),
    ("Raleigh", "276", ("919",)),
    ("San Diego", "921", ("619", "858")),
    ("Brooklyn", "112", ("718", "347")),
    ("Philadelphia", "191", ("215", "267")),
    ("Salt Lake City", "841", ("801",)),
    ("Miami", "331", ("305", "786")),
)
CA_CITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Toronto", "M5V", ("416", "647")),
    ("Vancouver", "V6B", ("604", "778")),
    ("Montreal", "H2X", ("514", "438")),
)
GB_CITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("London", "SE1", ("20",)),
    ("London", "N1", ("20",)),
    ("London", "E2", ("20",)),
)

EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com", "example.net", "example.org", "mail.example", "inbox.example",
)  # fmt: skip

PLANS: tuple[str, ...] = ("basic", "plus", "premium")
SEGMENTS: tuple[str, ...] = ("family", "student", "professional", "retiree", "outdoor")

HANDLE_WORDS: tuple[str, ...] = (
    "quiet", "brave", "sunny", "urban", "lucky", "wild", "cosmic", "rusty", "mellow", "swift",
    "fox", "owl", "maple", "river", "pixel", "harbor", "comet", "otter", "cedar", "echo",
    "daily", "retro", "north", "mossy", "velvet", "amber", "atlas", "nomad", "tidal", "ember",
)  # fmt: skip
