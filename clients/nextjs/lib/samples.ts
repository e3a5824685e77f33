// Sample documents for the demo page, copied from the service's examples/ folder (synthetic).

export const SAMPLES: Readonly<Record<string, string>> = {
  contract: `MASTER SERVICES AGREEMENT

This Master Services Agreement is made between Corvid Analytics Ltd ("Supplier") and Harlow & Finch Retail plc ("Customer").

1. Services
1.1 The Supplier shall provide the data analytics services described in each Statement of Work with reasonable skill and care.
1.2 The Supplier may vary the Fees and the scope of the Services from time to time by publishing a revised price list on its website, and such changes take effect immediately.

2. Term and Renewal
2.1 This Agreement starts on the Effective Date and continues for an Initial Term of twelve (12) months.
2.2 Thereafter this Agreement shall automatically renew for successive twelve-month periods unless the Customer gives written notice of non-renewal at least one hundred and twenty (120) days before the end of the then-current term.

3. Fees and Payment
3.1 The Customer shall pay each undisputed invoice within thirty (30) days of receipt.
3.2 Overdue amounts shall bear interest at 2% per month until paid in full.

4. Liability
4.1 Nothing in this Agreement limits either party's liability for death or personal injury caused by negligence, or for fraud.
4.2 The Supplier's total liability under this Agreement shall not exceed the fees paid in the twelve (12) months preceding the claim.
4.3 The limitations in this Clause 4 shall not apply to the Customer, whose liability for any breach of this Agreement is unlimited.

5. Indemnity
The Customer shall indemnify, defend and hold harmless the Supplier from and against any and all claims, losses, damages and expenses arising out of or in connection with this Agreement, howsoever caused.

6. Intellectual Property
6.1 The Customer shall own the bespoke reports delivered under each Statement of Work upon payment in full.
6.2 Each party retains ownership of its pre-existing intellectual property.

7. Confidentiality
Each party shall keep the other's Confidential Information confidential for three (3) years after termination, except information that is public, already known to the recipient, independently developed or required to be disclosed by law.

8. Termination
8.1 Either party may terminate this Agreement with immediate effect by written notice if the other party commits a material breach which is not remedied within thirty (30) days.
8.2 The Supplier may terminate this Agreement at any time, for any reason, by written notice to the Customer.

9. Assignment
The Supplier may assign or transfer this Agreement to any third party without the Customer's consent.

10. Governing Law
This Agreement is governed by the laws of the State of Delaware, and the parties submit to the exclusive jurisdiction of the courts located in Wilmington, Delaware.
`,
  privacy_policy: `PRIVACY POLICY - BLOOMLEAF GARDENING APP

Last updated: 3 March 2025

1. Who we are
Bloomleaf Labs Ltd ("we", "us") operates the Bloomleaf app and is the controller of your personal data.

2. What we collect
We collect your name, email address, postcode, photos of your plants and information about how you use the app.

3. Why we use your data and our legal basis
3.1 We use your data to provide the app and its plant-care reminders, on the basis of our contract with you.
3.2 We send newsletters only with your consent, which you may withdraw at any time.
3.3 We analyse usage to improve the app on the basis of our legitimate interests.

4. Sharing
4.1 We share personal data with hosting and email providers who process it on our behalf under written contracts.
4.2 We may also share your purchase history and location with advertising partners who use it for their own marketing purposes.

5. International transfers
Your personal data may be transferred to, stored and processed in any country where we or our service providers operate, including countries outside the European Economic Area.

6. Retention
6.1 We retain account data for 24 months after your last login, after which it is permanently deleted.
6.2 Plant photos are retained indefinitely for product improvement.

7. Security incidents
If we become aware of a data breach affecting your information, we will notify you without undue delay.

8. Children
Our services are not directed to children under 16, and we do not knowingly collect personal data from them.

9. Your rights
You have the right to access, rectify and erase your personal data, to restrict or object to its processing and to data portability. Contact privacy@bloomleaf.example to exercise these rights.
`,
  dpa: `DATA PROCESSING ADDENDUM

This Data Processing Addendum ("DPA") forms part of the Services Agreement between Meridian HR Software GmbH ("Processor") and the customer named in the Order Form ("Controller").

1. Subject matter
1.1 The Processor processes Personal Data of the Controller's employees only on documented instructions from the Controller.
1.2 The Processor shall ensure that persons authorised to process the Personal Data are bound by confidentiality.

2. Sub-processors
2.1 The Controller grants a general authorisation for the Processor to engage sub-processors.
2.2 The Processor may engage new sub-processors at any time without notifying the Controller.

3. International transfers
Where Personal Data is transferred outside the EEA, the parties shall rely on the Standard Contractual Clauses adopted by the European Commission.

4. Personal data breaches
The Processor shall notify the Controller of a Personal Data Breach within seven (7) days of becoming aware of it.

5. Assistance
The Processor shall assist the Controller, by appropriate technical and organisational measures, in responding to requests from data subjects exercising their rights.

6. Audits
6.1 The Controller may audit the Processor once per calendar year on thirty (30) days' prior written notice, at the Controller's own cost.
6.2 The Processor shall make available all information necessary to demonstrate compliance with Article 28 GDPR.

7. Return and deletion
Upon termination, the Processor may retain copies of the Personal Data in its archives for its own business purposes.

8. Liability
Each party's liability under this DPA is subject to the limitations and exclusions set out in the Services Agreement.
`,
  employment: `EMPLOYMENT AGREEMENT

Between Northgate Logistics Ltd (the "Company") and Priya Raman (the "Employee").

1. Position and duties
1.1 The Employee is employed as Senior Operations Analyst, starting on 1 September 2025.
1.2 The Employee's normal working hours are 40 hours per week, Monday to Friday.

2. Salary and overtime
2.1 The Employee's salary is EUR 58,000 per year, paid monthly in arrears.
2.2 The Employee's salary is deemed to compensate for all hours worked, and no additional payment shall be made for overtime.

3. Bonus
3.1 The Company may pay a discretionary annual bonus.
3.2 If the Employee leaves the Company for any reason within 24 months of the start date, the Employee shall repay the full signing bonus.

4. Expenses
The Company will reimburse reasonable travel expenses incurred in the performance of the Employee's duties.

5. Intellectual property
The Employee assigns to the Company all inventions, works and ideas conceived during the employment, whether or not during working hours or using the Company's resources.

6. Confidentiality
The Employee shall not disclose the Company's confidential information during employment and for two years after it ends, except as required by law.

7. Restrictions after employment
7.1 For a period of three years after the termination of employment, the Employee shall not work for, advise or be engaged in any business competing with the Company anywhere in the world.
7.2 During employment, the Employee shall not engage in any other business without prior written consent.

8. Notice
Either party may terminate the employment by giving the other one month's written notice.

9. Governing law
This Agreement is governed by the laws of Ireland.
`,
};
