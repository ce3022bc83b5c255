"""Validate stage, data: the most common Finnish first names (men's and women's, after the
Digital and Population Data Services Agency's published first-name statistics), for the
dictionary name pass of :mod:`tasks.validate.redaction_names`. Names that are also common
English words are not here (the English list is filtered the same way)."""

FINNISH_FIRST_NAMES: frozenset[str] = frozenset(
    """
    Juhani Johannes Mikael Olavi Antero Tapani Kalevi Tapio Matti Ilmari Kari Timo Juha Mikko
    Markku Jari Antti Jukka Mika Pekka Hannu Heikki Seppo Janne Ari Sami Petri Ville Marko
    Pentti Jorma Jouni Erkki Raimo Harri Risto Jussi Tommi Esa Veikko Lauri Martti Eero Pasi
    Tuomas Teemu Jani Kimmo Toni Aleksi Joonas Juho Niko Eetu Jesse Lassi Onni Elias Leo
    Oliver Eino Väinö Aatos Leevi Luka Veeti Joona Valtteri Samuli Henrik Kristian Arto Jyrki
    Reijo Kauko Keijo Vesa Sakari Tuomo Ilkka Olli Panu Oskari Santeri Rasmus Aapo Aaro Veli
    Maria Helena Johanna Anneli Kaarina Marjatta Anna Liisa Annikki Hannele Tuula Päivi Anne
    Ritva Leena Pirjo Sari Minna Marja Tiina Riitta Merja Eeva Sirpa Seija Eila Kirsi Kristiina
    Elina Katja Laura Sanna Satu Heidi Hanna Emilia Sofia Aino Amanda Matilda Ella Venla Iida
    Emma Aada Lotta Helmi Olivia Eevi Elli Pihla Siiri Veera Jenni Jenna Noora Essi Milla Salla
    Susanna Outi Pauliina Katariina Irmeli Inkeri Orvokki Elisa Aila Raija Terttu Marketta
    Tarja Arja Pirkko Kaija Eija Taina Tuija Mervi Heli Jaana Paula Petra Maarit Annika Anu
    Riikka Suvi Reetta Kaisa Niina Sini Jonna Henna Netta Oona Inka Nelli Vilma Lumi Kerttu
    """.split()
)
