#!/usr/bin/env python3
"""Writes models/written_a2p_ham.tsv: legitimate application-to-person messages written by the
Warden team from templates (one-time codes, delivery notices on the carriers' own domains, bank
and card alerts, account and service alerts, appointment reminders, orders, travel).

No licensed corpus of today's US/UK/EU A2P traffic exists (../shared/data/README.md), and without
one the model learns from the gateway smishing set that every modern brand message with a link
is fraud. These texts are training rows only (never test, never validation figures), marked as
written in the model card; they are not copied from tests/data/corpus.tsv, which stays a test.

Deterministic: `python3 scripts/written_a2p.py` always writes the same file.
"""

import random
from pathlib import Path

rng = random.Random(20261202)

def code(n=6):
    return "".join(rng.choice("0123456789") for _ in range(n))

def money(symbol):
    return f"{symbol}{rng.randint(2, 900)}.{rng.randint(0, 99):02d}"

def time_slot():
    start = rng.randint(7, 17)
    return f"{start}:00 and {start + 2}:00"

def day():
    return rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "tomorrow", "today"])

def date():
    return f"{rng.randint(1, 28)} {rng.choice(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'])}"

def tracking():
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(12))

otp_brands = ["Microsoft", "Steam", "Revolut", "Wise", "Coinbase", "Discord", "Telegram", "Signal", "Zoom",
              "Airbnb", "Booking.com", "eBay", "Etsy", "Shopify", "Twitter", "LinkedIn", "TikTok", "Snapchat",
              "Paytm", "PhonePe", "HDFC Bank", "ICICI Bank", "Axis Bank", "Chase", "Wells Fargo", "Capital One",
              "Barclays", "Santander", "Starling", "Deliveroo", "Lyft", "Bolt", "Instacart", "DoorDash", "Venmo",
              "Cash App", "Robinhood", "Binance", "Kraken", "Apple", "Samsung", "Xbox", "PlayStation", "Nintendo"]
otp_templates = [
    "{code} is your {brand} verification code. Do not share it with anyone.",
    "Your {brand} security code is {code}. It expires in {mins} minutes.",
    "{brand}: use code {code} to sign in. If you didn't request this, you can ignore this message.",
    "Use {code} to verify your phone number on {brand}.",
    "{brand} code: {code}. Valid for {mins} min. Our staff will never ask for this code.",
    "Your one-time passcode for {brand} is {code}",
    "{code} is your OTP for the transaction of {money} at {merchant}. OTP valid for {mins} mins. Do not share it with anyone. -{brand}",
    "Enter {code} to confirm your login to {brand}. Never give this code to anyone, even if they say they are from {brand}.",
    "{brand}: {code} is your code to reset your password.",
    "Your {brand} login code is {code}. Don't share it.",
]
merchants = ["Amazon", "Flipkart", "Swiggy", "Zomato", "Tesco", "Walmart", "Target", "Argos", "IKEA", "Uber", "Spotify"]

carriers = [
    ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={t}"),
    ("UPS", "https://www.ups.com/track?tracknum={t}"),
    ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={t}"),
    ("DHL", "https://www.dhl.com/en/express/tracking.html?AWB={t}"),
    ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{t}"),
    ("Evri", "https://www.evri.com/track/parcel/{t}"),
    ("DPD", "https://track.dpd.co.uk/parcels/{t}"),
    ("Yodel", "https://www.yodel.co.uk/tracking/{t}"),
    ("Amazon", "https://www.amazon.com/progress-tracker/package/{t}"),
    ("Blue Dart", "https://www.bluedart.com/tracking/{t}"),
    ("Delhivery", "https://www.delhivery.com/track/package/{t}"),
    ("PostNL", "https://jouw.postnl.nl/track-and-trace/{t}"),
    ("La Poste", "https://www.laposte.fr/outils/suivre-vos-envois?code={t}"),
]
delivery_templates = [
    "{carrier}: your parcel {t} is out for delivery {day}, expected between {slot}. Track: {url}",
    "{carrier}: we delivered your parcel at {hour}:{minute:02d}. Photo and details: {url}",
    "Your {carrier} package {t} has shipped and should arrive {day}. Track it at {url}",
    "{carrier}: your delivery is scheduled for {day}. Change the day or leave it with a neighbour at {url}",
    "{carrier}: parcel {t} was left in your safe place. See {url}",
    "Hi {name}, your {shop} order is with {carrier} ({t}). Follow it here: {url}",
]
shops = ["ASOS", "Zara", "John Lewis", "Best Buy", "Currys", "Nike", "Decathlon", "Myntra", "Ajio", "Boots", "Sephora"]
names = ["Sam", "Priya", "Tom", "Aisha", "Lucas", "Mei", "Rahul", "Emma", "Diego", "Fatima", "Noah", "Olga"]

banks = [("Chase", "$"), ("Bank of America", "$"), ("Wells Fargo", "$"), ("Citi", "$"), ("Capital One", "$"),
         ("Barclays", "£"), ("HSBC", "£"), ("NatWest", "£"), ("Lloyds", "£"), ("Monzo", "£"), ("Nationwide", "£"),
         ("HDFC Bank", "Rs."), ("SBI", "Rs."), ("ICICI Bank", "Rs."), ("Kotak", "Rs."), ("ING", "€"), ("N26", "€")]
bank_templates = [
    "{bank}: a purchase of {money} at {merchant} was made on your card ending {last4}. Not you? Call the number on the back of your card.",
    "{bank}: your account ending {last4} was credited with {money} on {date}. Available balance {money2}.",
    "{bank}: {money} debited from a/c XX{last4} on {date} to {merchant}. Not you? Call us on the number on our website.",
    "{bank} alert: your statement for the card ending {last4} is ready in the app. Minimum due {money} by {date}.",
    "{bank}: your direct debit of {money} to {merchant} will be taken on {date}.",
    "{bank}: your new card ending {last4} has been sent and should arrive within 5 working days.",
    "{bank}: you've set up a new standing order of {money}. If this wasn't you, call us on the number on the back of your card.",
    "{bank}: your balance is {money}. Log in to the app for details.",
    "{bank}: we'll never ask you to move money to a safe account or to share a code. If someone does, hang up.",
    "{bank}: your salary of {money} has arrived.",
    "{bank}: payment of {money} received for your credit card ending {last4}. Thank you.",
]

service_templates = [
    "{brand}: your password was changed on {date}. If this wasn't you, open the {brand} app and go to Settings > Security.",
    "{brand}: a new sign-in to your account from {device}. If it was you, there's nothing to do.",
    "{brand}: your bill of {money} is ready and will be paid by direct debit on {date}.",
    "{brand}: your subscription renews on {date} for {money}. Manage it in the app.",
    "{brand}: your data allowance is 80% used. It resets on {date}.",
    "{brand}: we've received your payment of {money}. Thanks!",
    "{brand}: scheduled maintenance on {date} from 1am to 3am may interrupt service.",
    "{brand}: your order #{order} has been confirmed. We'll text you when it ships.",
    "{brand}: your refund of {money} for order #{order} has been issued to your original payment method.",
    "{brand}: your ride with {name} is arriving in {mins} minutes. Look for a grey Toyota.",
    "{brand}: your food order is on its way and will arrive in about {mins} minutes.",
    "{brand}: your meter reading is due. Submit it in the app or on our website.",
]
service_brands = ["Vodafone", "EE", "O2", "Three", "Verizon", "T-Mobile", "AT&T", "Jio", "Airtel", "British Gas",
                  "Octopus Energy", "Thames Water", "Netflix", "Spotify", "Disney+", "Uber", "Ola", "Swiggy",
                  "Zomato", "Deliveroo", "Just Eat", "Google", "Apple", "Dropbox", "Amazon", "Flipkart"]
devices = ["a new iPhone", "Chrome on Windows", "an Android phone", "Safari on a Mac", "a new device in London"]

reminder_templates = [
    "Reminder: your appointment with Dr {surname} is on {day} at {hour}:{minute:02d}. Reply C to cancel.",
    "{clinic}: your vaccination is booked for {date} at {hour}:{minute:02d}. Please arrive 10 minutes early.",
    "{clinic}: your prescription is ready to collect.",
    "Your {service} appointment is confirmed for {date} at {hour}:{minute:02d}. To rebook call {phone}.",
    "{school}: school closes at 1pm on {day} for staff training.",
    "Your table for {n} at {restaurant} is booked for {day} at {hour}:{minute:02d}.",
    "{airline}: flight {flight} on {date} is on time. Boarding at gate {gate} from {hour}:{minute:02d}.",
    "{airline}: check-in is now open for your flight {flight} on {date}. Check in in the app.",
    "{airline}: your flight {flight} has a new departure time of {hour}:{minute:02d}. We're sorry for the change.",
    "Your MOT is due on {date}. Book at your usual garage.",
    "{library}: the book you reserved is ready to collect.",
]
surnames = ["Khan", "Smith", "Patel", "Garcia", "Nguyen", "Müller", "Okafor", "Rossi", "Sharma", "Brown"]
clinics = ["Riverside Surgery", "City Dental", "Boots Pharmacy", "CVS Pharmacy", "Apollo Clinic", "Walgreens"]
services = ["haircut", "eye test", "physio", "car service", "dentist", "vet"]
schools = ["St Mary's Primary", "Oak Park High", "Greenfield Academy"]
restaurants = ["Wagamama", "Olive Garden", "Barbeque Nation", "Pizza Hut", "The Ivy"]
airlines = ["British Airways", "easyJet", "Ryanair", "IndiGo", "Delta", "United", "Lufthansa", "Air India"]
libraries = ["City Library", "County Libraries"]

chat_templates = [
    "running {mins} mins late, save me a seat",
    "can you pick up milk on the way home?",
    "happy birthday {name}!! have a great day",
    "did you get the tickets for {day}?",
    "I'll call you after work",
    "the code for the gate is {code4}, see you soon",
    "mum says dinner at {hour}, don't be late",
    "sent you the photos from the weekend",
    "are we still on for {day}?",
    "landed safe, will text when I get to the hotel",
]

def fill(template):
    bank, symbol = rng.choice(banks)
    carrier, url = rng.choice(carriers)
    t = tracking()
    return template.format(
        code=code(rng.choice([4, 6, 6, 8])), code4=code(4), brand=rng.choice(otp_brands + service_brands),
        mins=rng.choice([5, 10, 15, 20, 30]), money=money(symbol), money2=money(symbol), merchant=rng.choice(merchants),
        carrier=carrier, t=t, url=url.format(t=t), day=day(), slot=time_slot(), hour=rng.randint(7, 20),
        minute=rng.choice([0, 15, 30, 45, 5, 50]), name=rng.choice(names), shop=rng.choice(shops), bank=bank,
        last4=code(4), date=date(), device=rng.choice(devices), order=code(8), surname=rng.choice(surnames),
        clinic=rng.choice(clinics), service=rng.choice(services), phone=f"0{code(4)} {code(6)}",
        school=rng.choice(schools), n=rng.randint(2, 8), restaurant=rng.choice(restaurants),
        airline=rng.choice(airlines), flight=f"{rng.choice(['BA', 'U2', 'FR', '6E', 'DL', 'UA', 'LH', 'AI'])}{rng.randint(10, 2999)}",
        gate=f"{rng.choice('ABCD')}{rng.randint(1, 40)}", library=rng.choice(libraries),
    )

rows = set()
for templates, count in [(otp_templates, 8), (delivery_templates, 10), (bank_templates, 8),
                         (service_templates, 7), (reminder_templates, 6), (chat_templates, 3)]:
    for template in templates:
        for _ in range(count):
            rows.add(fill(template))

out = Path(__file__).resolve().parent.parent / "models" / "written_a2p_ham.tsv"
with out.open("w") as f:
    f.write("# Legitimate A2P messages WRITTEN BY THE WARDEN TEAM from templates (scripts/written_a2p.py),\n")
    f.write("# not real traffic: training rows only, never test. label<TAB>text.\n")
    for text in sorted(rows):
        f.write(f"ham\t{text}\n")
print(f"wrote {len(rows)} rows to {out}")
