"""Write the quick start's example shards: ILLUSTRATIVE data written for the
ifscore project, not output of any real model. Each record imitates one of
two tones the IFS classifier separates:

  answer-like        what an instruction-tuned model does: answers the request,
                     or asks for the missing part of a cut-off request;
  continuation-like  what a base model does: continues the prompt as if it were
                     a document (finishes the sentence, writes the next
                     question, lists more prompts).

"Models" are invented names; each mixes the two tones in a fixed proportion so
the IFS table shows a spread, and the "sft" model has a `step` key so the
checkpoint curve and plateau appear. Deterministic: no randomness.

usage: python examples/make_examples.py examples/shards
"""
import json
import sys
from pathlib import Path

# (full instruction, partial cut, answer to full, reply to partial,
#  continuation of the full instruction, continuation of the partial)
ITEMS = [
    ("What if people had 40 legs?", "What if",
     "If people had 40 legs, walking would need far more coordination, shoes would be a major expense, and chairs would look very different. Evolution would also have to supply the muscles and nerves to move them.",
     "It looks like your question was cut off. What would you like me to imagine? Tell me the rest and I will happily explore it.",
     "What if they had 60 legs? What if they had no legs at all? These are the questions my biology teacher asked us on the first day of class.",
     "people could fly? What if the sky was green? What if dogs could talk? Write your answers below and share them with the class."),
    ("Give me three tips for staying focused while studying.", "Give me three tips for",
     "Here are three tips: 1. Put your phone in another room so notifications cannot pull you away. 2. Work in 25-minute blocks with short breaks. 3. Write down one clear goal for each session before you start.",
     "Sure, I can help with that. Three tips for what, exactly? For example studying, sleeping better, or saving money?",
     "Give me three tips for staying focused while working from home. Give me three tips for staying focused while reading.",
     "making friends in a new city and explain why each one works. Your essay should be at least 500 words long."),
    ("Explain how a refrigerator keeps food cold.", "Explain how a refrigerator",
     "A refrigerator moves heat out of its insulated box. A compressor squeezes a refrigerant gas, which releases heat through the coils at the back; the refrigerant then expands inside the fridge, evaporates and absorbs heat from the food compartment.",
     "Your request seems incomplete. Would you like me to explain how a refrigerator works, how it saves energy, or something else about it?",
     "Explain how a freezer differs from a refrigerator. Explain how an air conditioner works. Explain how a heat pump heats a house in winter.",
     "works, in your own words, using the diagram on page 42. Label the compressor, the condenser and the evaporator."),
    ("Write a haiku about autumn leaves.", "Write a haiku about",
     "Red leaves drift and fall,\nwhispering to the cold ground,\nsummer says goodbye.",
     "I'd love to write a haiku for you. What should it be about? Give me a topic, such as the sea, a city at night, or your cat.",
     "Write a haiku about winter snow. Write a haiku about spring rain. Write a haiku about the summer sun.",
     "your favourite season and share it with a partner. Then count the syllables in each line to check your work."),
    ("How do I boil an egg?", "How do I",
     "Place the egg in a pot, cover it with cold water, and bring it to a boil. Then turn off the heat, cover the pot, and leave it for 9 to 12 minutes. Cool it in cold water before peeling.",
     "It seems your question got cut off. How do you do what? Let me know and I'll walk you through it step by step.",
     "How do I poach an egg? How do I make scrambled eggs fluffy? Asked by a user on a cooking forum in 2009.",
     "get to the train station from here? Excuse me, sir, do you know the way? I have been walking for an hour."),
    ("Summarize the plot of Romeo and Juliet in two sentences.", "Summarize the plot of",
     "Two young lovers from feuding families in Verona marry in secret. A chain of misunderstandings leads both to take their own lives, which finally reconciles their families.",
     "Happy to summarize something for you. Which book, film or play would you like me to summarize?",
     "Summarize the plot of Hamlet in two sentences. Summarize the plot of Macbeth in two sentences. Summarize the plot of Othello.",
     "the novel in no more than 300 words. Use the present tense and do not include your own opinion."),
    ("Translate 'good morning' into Spanish.", "Translate 'good morning'",
     "'Good morning' in Spanish is 'buenos días'.",
     "Into which language would you like 'good morning' translated? For example, Spanish is 'buenos días' and French is 'bonjour'.",
     "Translate 'good night' into Spanish. Translate 'thank you' into Spanish. Translate 'please' into Spanish.",
     "into French, German and Italian. Exercise 4: now translate 'good evening' into the same three languages."),
    ("What is the capital of Australia?", "What is the capital",
     "The capital of Australia is Canberra.",
     "Your question seems to be missing a country. The capital of which country would you like to know?",
     "What is the capital of New Zealand? What is the capital of Canada? Quiz night answers will be posted on Friday.",
     "of France? A. Paris B. Lyon C. Marseille D. Nice. Question 2: what is the largest ocean on Earth?"),
    ("List the planets of the solar system in order from the Sun.", "List the planets",
     "In order from the Sun: Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus and Neptune.",
     "Do you want me to list the planets of our solar system? If so: Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus and Neptune. Let me know if you meant something else.",
     "List the moons of Jupiter in order of size. List the dwarf planets. Homework due Monday, 20 points.",
     "in order of size, from the smallest to the largest, and write one fact about each of them in your notebook."),
    ("Why is the sky blue?", "Why is the",
     "Sunlight is scattered by the molecules of the air, and shorter blue wavelengths scatter much more than red ones. That scattered blue light reaches our eyes from every direction, so the sky looks blue.",
     "Your question seems to be cut off after 'Why is the'. What would you like to know? For example, why is the sky blue, or why is the ocean salty?",
     "Why is the sunset red? Why is the ocean blue? Why is grass green? Children ask the best questions.",
     "ocean salty, the sky blue, and the grass green? Scientists have been asking these questions for centuries."),
    ("Suggest a name for a bakery that sells sourdough bread.", "Suggest a name for",
     "How about 'The Rising Crust'? It hints at the slow rise of sourdough and sounds friendly on a shop sign.",
     "I'd be glad to suggest a name. What is it for: a business, a pet, a project, or something else?",
     "Suggest a name for a coffee shop. Suggest a name for a bookstore. Suggest a name for a flower shop.",
     "your new puppy. Our readers sent in hundreds of ideas last month, and here are the twenty best ones."),
    ("Convert 100 degrees Fahrenheit to Celsius.", "Convert 100 degrees",
     "100 degrees Fahrenheit is about 37.8 degrees Celsius, since (100 - 32) x 5/9 = 37.78.",
     "Convert 100 degrees from which scale to which? For example, 100 degrees Fahrenheit is about 37.8 degrees Celsius.",
     "Convert 50 degrees Fahrenheit to Celsius. Convert 0 degrees Celsius to Fahrenheit. Show your work.",
     "Celsius to Fahrenheit and 100 degrees Fahrenheit to Celsius. Round both answers to one decimal place."),
]

# name -> (share of answer-like responses in 1/12ths, extra keys)
MODELS = [
    ("example-chat-7b", 12, {}),
    ("example-chat-1b", 10, {}),
    ("example-base-7b", 2, {}),
    ("example-base-7b+suffix", 7, {}),
]
SFT_STEPS = [0, 500, 1000, 2000, 4000, 8000, 16000]
SFT_SHARE = [1, 4, 7, 10, 11, 11, 11]  # answer-like items out of 12 at each step


def records(model, share, extra):
    out = []
    for i, (full, part, ans, ask, cont_full, cont_part) in enumerate(ITEMS):
        answers = i < share  # the first `share` items get answer-like tone
        out.append(dict(id=f"{model}/{i}-full", model=model, **extra,
                        instruction=full, instruction_type="full",
                        response=ans if answers else cont_full))
        # partials are harder for base models: they answer one fewer
        answers_p = i < share - (0 if share in (0, 12) else 1)
        out.append(dict(id=f"{model}/{i}-partial", model=model, **extra,
                        instruction=part, instruction_type="partial",
                        response=ask if answers_p else cont_part))
    return out


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, share, extra in MODELS:
        recs = records(name, share, extra)
        (out / f"{name.replace('+', '_')}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    sft = []
    for step, share in zip(SFT_STEPS, SFT_SHARE):
        sft += records("example-sft-7b", share, {"step": step})
    (out / "example-sft-7b.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sft), encoding="utf-8")


if __name__ == "__main__":
    main()
