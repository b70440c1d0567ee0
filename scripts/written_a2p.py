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


# Second batch: the legitimate messages that share a lure's vocabulary (security notices, failed
# payments, refunds, locked accounts, tax and council notices, number transfers) without its
# ask (no off-site link, no code or details requested), notices from small businesses on their
# own domains, and person-to-person chat about money (none about winning: that is prize spam's
# wording too). Written from the categories
# platforms list for A2P traffic, not from tests/data/corpus.tsv.
security_templates = [
    "{brand}: your account was locked after too many wrong passwords. To unlock it, visit a branch or call us.",
    "{brand}: someone tried to sign in with the wrong password {n} times. Your account is safe; no action is needed.",
    "{brand}: your email address was changed. If you didn't make this change, contact us from the app.",
    "{brand}: you turned on two-step verification. You'll need a code each time you sign in on a new device.",
    "{brand}: your PIN was changed on {date}. If this wasn't you, call the number on the back of your card.",
    "We noticed a new login to your {brand} account on {device}. If this was you, you can ignore this message.",
    "{brand}: your card is temporarily frozen in the app. You can unfreeze it there at any time.",
    "{brand}: your account is restricted until we receive the documents we asked for by post.",
    "{brand} will never ask for your password, PIN or a code by text or phone.",
    "{brand}: your recovery phone number was updated. Not you? Go to Settings in the app.",
    "{brand}: this number was added to your account. Reply STOP if you did not ask for it.",
]
billing_templates = [
    "{brand}: we couldn't take your payment of {money}. Please update your card in the app so your service isn't interrupted.",
    "{brand}: your payment failed. We'll try again on {date}. You can change your card in your account settings.",
    "{brand}: your subscription has been paused because the last payment failed. Update it in the app.",
    "{brand}: your refund of {money} has been processed and should reach your account in 3 to 5 working days.",
    "{brand}: we've received your return. Your refund of {money} is on its way.",
    "{brand}: your bill for {date} is {money}. No action needed if you pay by direct debit.",
    "{brand}: your account is {money} overdue. Please pay in the app or call us on {phone} to set up a plan.",
    "{brand}: thanks, your payment of {money} has been received and your account is up to date.",
    "{brand}: your free trial ends on {date}. After that it's {money} a month unless you cancel in settings.",
    "{brand}: your top-up of {money} was successful.",
]
government_templates = [
    "{agency}: your {document} application has been received. We'll write to you within {n} weeks.",
    "{agency}: your {document} is ready. It will be posted to your home address.",
    "{agency}: your council tax bill for this year is now available in your online account.",
    "{agency}: your bin collection this week is on {day} because of the bank holiday.",
    "{agency}: reminder, your tax return is due by {date}. File it in your online account.",
    "{agency}: your vehicle tax is due on {date}. You can renew it online or at a post office.",
    "{agency}: your appointment to collect your {document} is on {date} at {hour}:{minute:02d}.",
    "{agency}: we've paid {money} into your account. Details are in your online account.",
]
agencies = ["HMRC", "DVLA", "Camden Council", "Leeds City Council", "IRS", "DMV", "Passport Office",
            "Service Canada", "Income Tax Department", "Bristol City Council", "Social Security Administration"]
documents = ["passport", "driving licence", "residence permit", "ID card", "tax certificate", "blue badge"]
telecom_templates = [
    "{telco}: your number will move to your new provider on {date}. Your service may stop for up to an hour.",
    "{telco}: your new SIM is now active. Welcome to {telco}!",
    "{telco}: you've used 90% of your monthly data. It renews on {date}.",
    "{telco}: your plan changes to {money} a month from {date}, as we wrote to you last month.",
    "{telco}: roaming is on. Calls and texts in the EU are included in your plan.",
    "{telco}: your eSIM is ready. Scan the QR code we emailed to finish setting it up.",
    "{telco}: your upgrade phone has been dispatched and will arrive on {day}.",
]
telcos = ["Vodafone", "EE", "O2", "Three", "giffgaff", "Verizon", "T-Mobile", "AT&T", "Jio", "Airtel", "Vi"]
local_templates = [
    "{biz}: your appointment is on {day} at {hour}:{minute:02d}. Manage it at https://www.{slug}.{tld}/bookings",
    "Thanks for booking with {biz}! See you on {date} at {hour}:{minute:02d}. Details: https://{slug}.{tld}/my-booking",
    "{biz}: your order is ready for collection. Opening hours: https://www.{slug}.{tld}/contact",
    "{biz}: your car is ready to collect. Invoice: https://www.{slug}.{tld}/invoices/{order}",
    "Reminder from {biz}: your visit is tomorrow at {hour}:{minute:02d}. To change it, call {phone}.",
    "{biz}: we've received your enquiry and will call you back {day}.",
    "{biz}: your table is booked for {day} at {hour}:{minute:02d}. Reply CANCEL if you can't make it.",
    "{biz}: your repair is done. Total {money}, payable on collection.",
]
local_businesses = [("Harbour View Dental", "harbourviewdental"), ("Greenleaf Garage", "greenleafgarage"),
                    ("Bloom & Co Florist", "bloomandco"), ("Northside Physio", "northsidephysio"),
                    ("The Copper Kettle", "copperkettlecafe"), ("Maple Street Vets", "maplestreetvets"),
                    ("Sunrise Yoga", "sunriseyoga"), ("Kingsway Opticians", "kingswayopticians"),
                    ("Riverside Barbers", "riversidebarbers"), ("Oakwood Tyres", "oakwoodtyres")]
order_templates = [
    "{shop}: your order #{order} has been dispatched and should arrive {day}.",
    "{shop}: order #{order} confirmed. Total {money}, including delivery of {money2}.",
    "{shop}: your order is out for delivery today. Your driver is {name}.",
    "{shop}: your click and collect order is ready at the store. Bring your order number {order}.",
    "{shop}: we're sorry, one item in your order is out of stock. You have not been charged for it.",
    "{shop}: your return has been received. Your refund will be issued within 3 days.",
    "Your {shop} parcel has been delivered to the locker. Collect it within 3 days with code {code}.",
    "{carrier}: we missed you today. Your parcel will be redelivered on {day}, or collect it from your local depot.",
    "{carrier}: your parcel {t} has been delivered to your neighbour at number {n}.",
    "{carrier}: your parcel is at the customs office. No fee is due; it will be delivered in 2 days.",
]
health_templates = [
    "{clinic}: your test results are back. Please call the surgery to discuss them.",
    "{clinic}: you're due your annual health check. Call us to book.",
    "{clinic}: your repeat prescription has been sent to your pharmacy.",
    "{clinic}: your appointment on {date} has been cancelled. Please call us to rebook.",
    "{clinic}: please complete the short form before your visit on {day}.",
]
work_school_templates = [
    "{school}: a reminder that the trip to the museum is on {day}. Packed lunch needed.",
    "{school}: your child was marked absent today. Please call the office if this is unexpected.",
    "{school}: parents' evening is on {date}. Book your slot in the school app.",
    "Shift reminder: you're working {day} from {hour}:00. Reply YES to confirm.",
    "Your interview with {shop} is on {date} at {hour}:{minute:02d}. Ask for {name} at reception.",
]
chat_money_templates = [
    "sent you the {money} for the tickets",
    "can you pay me back the {money} for dinner when you get paid?",
    "I'm selling my old bike, {money}, do you know anyone?",
    "the vet bill was {money}, can you believe it",
    "congrats on the new job!! so proud of you",
    "congratulations on passing your test!!",
    "just paid the deposit for the flat, {money} gone",
    "I got a refund from the airline finally, {money}",
    "can you send me your bank details so I can pay you back for the hotel?",
    "my account got locked, I typed the wrong pin three times lol",
    "I'll transfer the rent tomorrow morning",
]

def fill(template):
    bank, symbol = rng.choice(banks)
    carrier, url = rng.choice(carriers)
    biz, slug = rng.choice(local_businesses)
    t = tracking()
    return template.format(
        code=code(rng.choice([4, 6, 6, 8])), code4=code(4), brand=rng.choice(otp_brands + service_brands),
        mins=rng.choice([5, 10, 15, 20, 30]), money=money(symbol), money2=money(symbol), merchant=rng.choice(merchants),
        carrier=carrier, t=t, url=url.format(t=t), day=day(), slot=time_slot(), hour=rng.randint(7, 20),
        minute=rng.choice([0, 15, 30, 45, 5, 50]), name=rng.choice(names), shop=rng.choice(shops), bank=bank,
        last4=code(4), date=date(), device=rng.choice(devices), order=code(8), surname=rng.choice(surnames),
        clinic=rng.choice(clinics), service=rng.choice(services), phone=f"0{rng.choice('123')}{code(3)} {code(6)}",
        school=rng.choice(schools), n=rng.randint(2, 8), restaurant=rng.choice(restaurants),
        airline=rng.choice(airlines), flight=f"{rng.choice(['BA', 'U2', 'FR', '6E', 'DL', 'UA', 'LH', 'AI'])}{rng.randint(10, 2999)}",
        gate=f"{rng.choice('ABCD')}{rng.randint(1, 40)}", library=rng.choice(libraries),
        agency=rng.choice(agencies), document=rng.choice(documents), telco=rng.choice(telcos),
        biz=biz, slug=slug, tld=rng.choice(["com", "co.uk", "com", "net", "uk"]),
    )

rows = set()
for templates, count in [(otp_templates, 8), (delivery_templates, 10), (bank_templates, 8),
                         (service_templates, 7), (reminder_templates, 6), (chat_templates, 3),
                         (security_templates, 6), (billing_templates, 6), (government_templates, 6),
                         (telecom_templates, 5), (local_templates, 6), (order_templates, 6),
                         (health_templates, 5), (work_school_templates, 4), (chat_money_templates, 3)]:
    for template in templates:
        for _ in range(count):
            rows.add(fill(template))

# Third batch, drawn after the first two so that their rows stay as they were: notices that give
# the sender's own number to call back (a bank's or a service's published line, the shape phishers
# copy, so the model learned any number as a lure), reminders that link to a small business's own
# hyphenated domain, and chat about bills. Written from those categories, not from
# tests/data/corpus.tsv.
def callback(symbol):
    if symbol == "£":
        return f"{rng.choice(['0345', '0344', '0800', '0300', '0333'])} {code(3)} {code(4)}"
    if symbol == "$":
        return f"1-800-{code(3)}-{code(4)}"
    if symbol == "Rs.":
        return f"1800 {code(3)} {code(4)}"
    return f"+{rng.choice(['31', '49', '33'])} {code(2)} {code(3)} {code(4)}"

callback_templates = [
    "{bank}: you paid {money} to {initial} {surname}. If you don't recognise this payment, call us on {callback}.",
    "{bank}: your card ending {last4} was used for {money} at {merchant}. If this wasn't you, call {callback}.",
    "{bank}: your new PIN is on its way by post. Any questions, call {callback}.",
    "{bank}: we will never ask you to share your PIN or move money to another account. If anyone does, hang up and call {callback}.",
    "{bank}: your overdraft limit has changed to {money}. Questions? Call {callback}, 8am to 8pm.",
    "{bank}: you added {initial} {surname} as a new payee. If you didn't, call us on {callback}.",
    "{brand}: your direct debit of {money} is set up. If anything is wrong, call us on {callback}.",
    "{brand}: your engineer visit is booked for {date}. To change it, call {callback}.",
]
hyphenated_businesses = [("Kings Road Tyres", "kingsroad-tyres", ["MOT", "car service", "tyre check"]),
                         ("Hillside Motors", "hillside-motors", ["MOT", "car service"]),
                         ("Parkview Dental", "parkview-dental", ["dental check-up", "hygienist visit"]),
                         ("Ash Lane Vets", "ashlane-vets", ["dog's booster", "cat's annual check-up"]),
                         ("Westgate Opticians", "westgate-opticians", ["eye test"]),
                         ("Brightside Boilers", "brightside-boilers", ["boiler service", "gas safety check"])]
own_domain_templates = [
    "Reminder: your {item} is due on {date}. Book online at https://www.{slug}.{tld}/book",
    "{biz}: your {item} is due this month. Pick a slot at https://{slug}.{tld}",
    "{biz}: thanks for coming in. Your invoice is at https://www.{slug}.{tld}/account",
]
chat_bill_templates = [
    "the plumber charged us {money} just to look at the boiler",
    "the {pet} ate a sock, the vet wants {money} for the x-ray",
    "car repair came to {money}, ouch",
    "gas bill this month was {money}!!",
]

def fill_third(template):
    bank, symbol = rng.choice(banks)
    biz, slug, items = rng.choice(hyphenated_businesses)
    return template.format(
        bank=bank, money=money(symbol), initial=rng.choice("ABCDJKMRST"), surname=rng.choice(surnames),
        callback=callback(symbol), last4=code(4), merchant=rng.choice(merchants),
        brand=rng.choice(["British Gas", "Octopus Energy", "Thames Water", "Sky", "Virgin Media", "BT"]), date=date(), item=rng.choice(items), biz=biz, slug=slug,
        tld=rng.choice(["com", "co.uk", "uk"]), pet=rng.choice(["dog", "cat", "puppy", "rabbit"]),
    )

for templates, count in [(callback_templates, 8), (own_domain_templates, 8), (chat_bill_templates, 4)]:
    for template in templates:
        for _ in range(count):
            rows.add(fill_third(template))

out = Path(__file__).resolve().parent.parent / "models" / "written_a2p_ham.tsv"
with out.open("w") as f:
    f.write("# Legitimate A2P messages WRITTEN BY THE WARDEN TEAM from templates (scripts/written_a2p.py),\n")
    f.write("# not real traffic: training rows only, never test. label<TAB>text.\n")
    for text in sorted(rows):
        f.write(f"ham\t{text}\n")
print(f"wrote {len(rows)} rows to {out}")
